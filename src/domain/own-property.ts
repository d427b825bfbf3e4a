/**
 * Own properties of records built from outside data. Kubernetes keys such as `__proto__` or
 * `toString` are valid; plain `obj[key]` reads the prototype for them and `obj[key] = v` sets
 * the prototype instead of a property.
 */

/** Sets an own, enumerable property, whatever the key. */
export const setOwn = (target: Record<string, unknown>, key: string, value: unknown): void => {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/** An own property's value; `undefined` when the record has no own property of that name. */
export const getOwn = (record: Readonly<Record<string, unknown>>, key: string): unknown => (Object.hasOwn(record, key) ? record[key] : undefined)
