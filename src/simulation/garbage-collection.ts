/**
 * The garbage collector's background deletion, as the simulated cluster applies it right after an
 * owner is deleted: a dependent whose every owner is gone is deleted too (and, in turn, its own
 * dependents); a dependent that still has an owner only loses its references to the missing ones.
 * Owners are matched by uid, as the real collector does. Foreground deletion, `blockOwnerDeletion`
 * and orphaning are not simulated: every delete is a background one.
 */
import type { ResourceType } from "../services/kube/resources.ts"
import { isJsonObject } from "../services/kube/merge-patch.ts"
import { metaOf, type Obj } from "./wire-object.ts"

export interface StoredObject {
  readonly type: ResourceType
  readonly obj: Obj
}

/** What the collector does to one dependent of a deleted owner. */
export type Collection =
  | { readonly _tag: "Delete"; readonly target: StoredObject }
  | { readonly _tag: "Unlink"; readonly target: StoredObject; readonly ownerReferences: ReadonlyArray<unknown> }

const uidOf = (value: unknown): string | undefined => {
  const uid = isJsonObject(value) ? value.uid : undefined
  return typeof uid === "string" && uid !== "" ? uid : undefined
}

const ownerReferencesOf = (obj: Obj): ReadonlyArray<unknown> => {
  const refs = metaOf(obj).ownerReferences
  return Array.isArray(refs) ? refs : []
}

/** The object's uid, if it has one. */
export const objectUid = (obj: Obj): string | undefined => uidOf(metaOf(obj))

/** What to do with the dependents of the owner `goneUid`, given every object still stored. */
export const collectGarbage = (stored: ReadonlyArray<StoredObject>, goneUid: string): ReadonlyArray<Collection> => {
  const present = new Set(stored.flatMap(({ obj }) => objectUid(obj) ?? []))
  return stored.flatMap((target): ReadonlyArray<Collection> => {
    const refs = ownerReferencesOf(target.obj)
    if (!refs.some((ref) => uidOf(ref) === goneUid)) return []
    // Like the real collector, a dependent that keeps an owner loses every dangling reference, not only the deleted owner's.
    const solid = refs.filter((ref) => {
      const uid = uidOf(ref)
      return uid !== undefined && uid !== goneUid && present.has(uid)
    })
    return solid.length > 0 ? [{ _tag: "Unlink", target, ownerReferences: solid }] : [{ _tag: "Delete", target }]
  })
}
