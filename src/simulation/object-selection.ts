/**
 * Which objects a list or watch of the simulated cluster selects: a label selector and, optionally, the field
 * selectors the project uses, `metadata.name=<name>` and (Events) `involvedObject.name=<name>`, comma-joined.
 */
import { Result } from "effect"
import { matchesLabelSelector, parseLabelSelector, type LabelSelector } from "../services/kube/label-selector.ts"
import { labelsOf, metaOf, type Obj } from "./wire-object.ts"

export interface Selection {
  readonly labels: LabelSelector
  readonly name: string | undefined
  readonly involvedObjectName?: string | undefined
}

const fieldTerm = /^(metadata\.name|involvedObject\.name)==?([^,=!]+)$/

/** The API server's field selectors, as far as the project uses them: `metadata.name=<name>`, `involvedObject.name=<name>` (or `==`). */
export const parseSelection = (labelSelector: string | undefined, fieldSelector: string | undefined): Result.Result<Selection, string> => {
  const labels = parseLabelSelector(labelSelector ?? "")
  if (Result.isFailure(labels)) return Result.fail(labels.failure)
  const field = (fieldSelector ?? "").trim()
  if (field === "") return Result.succeed({ labels: labels.success, name: undefined })
  const fields = new Map<string, string>()
  for (const term of field.split(",")) {
    const m = fieldTerm.exec(term.trim())
    if (m === null || fields.has(m[1]!))
      return Result.fail(`field selector "${field}" is not supported by the simulated API server: only metadata.name=<name> and involvedObject.name=<name>`)
    fields.set(m[1]!, m[2]!)
  }
  return Result.succeed({ labels: labels.success, name: fields.get("metadata.name"), involvedObjectName: fields.get("involvedObject.name") })
}

const involvedObjectNameOf = (obj: Obj): unknown => {
  const involved = (obj as { readonly involvedObject?: unknown }).involvedObject
  return typeof involved === "object" && involved !== null ? (involved as { readonly name?: unknown }).name : undefined
}

export const selects = (selection: Selection, obj: Obj): boolean =>
  matchesLabelSelector(selection.labels, labelsOf(obj)) &&
  (selection.name === undefined || metaOf(obj).name === selection.name) &&
  (selection.involvedObjectName === undefined || involvedObjectNameOf(obj) === selection.involvedObjectName)
