/** The earliest of some times, any of them possibly absent; undefined when none is given. */
export const earliestTime = (values: ReadonlyArray<number | undefined>): number | undefined => {
  const defined = values.filter((v): v is number => v !== undefined)
  return defined.length === 0 ? undefined : Math.min(...defined)
}
