/** Optional fields under `exactOptionalPropertyTypes`: a field that is `undefined` is left out, not set to `undefined`. */
export type DefinedFields<A> = { [K in keyof A]?: Exclude<A[K], undefined> }

/** `fields` without the ones that are `undefined`, in the same order. */
export const definedFields = <A extends object>(fields: A): DefinedFields<A> =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as DefinedFields<A>
