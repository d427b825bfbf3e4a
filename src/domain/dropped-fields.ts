/**
 * The fields of a written object that the stored one lacks, as dotted paths (`lastRequest.backup`): what an API
 * server pruned because its CRD's schema does not have them. A field is named, not what it held; lists are
 * compared as values, not field by field (their items have no stable names). A key whose value is undefined was
 * never written (JSON leaves it out).
 */
export const droppedFields = (written: unknown, stored: unknown, at = ""): ReadonlyArray<string> => {
  if (!isRecord(written)) return []
  const kept = isRecord(stored) ? stored : {}
  return Object.keys(written)
    .filter((key) => written[key] !== undefined)
    .sort()
    .flatMap((key) => {
      const path = at === "" ? key : `${at}.${key}`
      return Object.hasOwn(kept, key) ? droppedFields(written[key], kept[key], path) : [path]
    })
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> => typeof value === "object" && value !== null && !Array.isArray(value)
