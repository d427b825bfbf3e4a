/** Which objects a list or watch of the simulated cluster selects: a label selector and, optionally, `metadata.name=<name>`. */
import { Result } from "effect"
import { matchesLabelSelector, parseLabelSelector, type LabelSelector } from "../services/kube/label-selector.ts"
import { labelsOf, metaOf, type Obj } from "./wire-object.ts"

export interface Selection {
  readonly labels: LabelSelector
  readonly name: string | undefined
}

/** The API server's field selectors, as far as the project uses them: `metadata.name=<name>` (or `==`). */
export const parseSelection = (labelSelector: string | undefined, fieldSelector: string | undefined): Result.Result<Selection, string> => {
  const labels = parseLabelSelector(labelSelector ?? "")
  if (Result.isFailure(labels)) return Result.fail(labels.failure)
  const field = (fieldSelector ?? "").trim()
  if (field === "") return Result.succeed({ labels: labels.success, name: undefined })
  const m = /^metadata\.name==?([^,=!]+)$/.exec(field)
  if (m === null) return Result.fail(`field selector "${field}" is not supported by the simulated API server: only metadata.name=<name>`)
  return Result.succeed({ labels: labels.success, name: m[1]! })
}

export const selects = (selection: Selection, obj: Obj): boolean =>
  matchesLabelSelector(selection.labels, labelsOf(obj)) && (selection.name === undefined || metaOf(obj).name === selection.name)
