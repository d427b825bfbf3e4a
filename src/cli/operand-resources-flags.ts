import { Effect, FileSystem, Option, Result, Schema } from "effect"
import { Flag } from "effect/cli"
import { defaultOperands, operandTableWithOverrides, type OperandTable, type ResourceOverridesInvalid } from "../domain/operands.ts"
import { operandResourcesJsonFlag } from "../domain/backup-pod-names.ts"
import { describeFileSystemFailure } from "../services/file-system-error.ts"
import { checkedWith, nonEmpty } from "./flag-checks.ts"

export class OperandResourcesUnreadable extends Schema.TaggedError<OperandResourcesUnreadable>()("OperandResourcesUnreadable", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** `--operand-resources FILE`: replaces the operands' revisioned ConfigMap/Secret lists (operator, render). */
export const operandResourcesFileFlag = Flag.String("operand-resources").pipe(
  nonEmpty("path"),
  Flag.optional,
  Flag.withDescription(
    "JSON or YAML file replacing operands' revisioned ConfigMap/Secret lists (OpenShift releases differ): {operands: {<operand>: {configMaps: [{name, optional}], secrets: [...]}}}",
  ),
)

/** `--operand-resources-json TEXT`: the same lists as one-line JSON, as the rendered backup pod passes them. */
export const operandResourcesJsonFlagDef = Flag.String(operandResourcesJsonFlag.slice(2)).pipe(
  checkedWith((text) => {
    const table = operandTableWithOverrides(text)
    return Result.isSuccess(table) ? undefined : table.failure.message
  }),
  Flag.optional,
  Flag.withDescription("Replaced resource lists as one-line JSON (the operator renders this into the backup pod)"),
)

/** The operand table a `--operand-resources` file gives (the default table without one). */
export const tableFromFile = (file: Option.Option<string>) =>
  Effect.gen(function* () {
    if (Option.isNone(file)) return defaultOperands
    const fs = yield* FileSystem.FileSystem
    const unreadable = (e: unknown) =>
      new OperandResourcesUnreadable({ path: file.value, message: `--operand-resources: ${describeFileSystemFailure("read", file.value, e).message}` })
    // A FIFO or a device would be read forever.
    const info = yield* fs.stat(file.value).pipe(Effect.mapError(unreadable))
    if (info.type !== "File") {
      return yield* new OperandResourcesUnreadable({
        path: file.value,
        message: `--operand-resources: ${file.value} is not a regular file (${info.type}): give a JSON or YAML file`,
      })
    }
    const text = yield* fs.readFileString(file.value).pipe(Effect.mapError(unreadable))
    return yield* Effect.fromResult(operandTableWithOverrides(text))
  })

/** The operand table `--operand-resources-json` gives (the default table without it). */
export const tableFromJson = (json: Option.Option<string>): Effect.Effect<OperandTable, ResourceOverridesInvalid> =>
  Option.isNone(json) ? Effect.succeed(defaultOperands) : Effect.fromResult(operandTableWithOverrides(json.value))
