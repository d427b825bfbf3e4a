/** A count with its noun, singular for exactly one: `counted(1, "Secret")` is "1 Secret", `counted(2, "entry", "entries")` "2 entries". */
export const counted = (n: number, one: string, many: string = `${one}s`): string => `${n} ${n === 1 ? one : many}`
