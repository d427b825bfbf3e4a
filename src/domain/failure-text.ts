/**
 * The text of a caught failure for a message a person reads: its own message when it has one,
 * else what it converts to. Never throws, whatever was thrown (a string, `undefined`, an object
 * without a prototype). Errno failures go through `services/file-system-error.ts` instead, which
 * adds what the code means and what to do.
 */
export const failureText = (failure: unknown): string => {
  if (typeof failure === "object" && failure !== null) {
    const message = (failure as { readonly message?: unknown }).message
    if (typeof message === "string" && message !== "") return message
  }
  try {
    return String(failure)
  } catch {
    // No prototype or a throwing toString: its fields, or at least its kind.
    try {
      return JSON.stringify(failure) ?? Object.prototype.toString.call(failure)
    } catch {
      return Object.prototype.toString.call(failure)
    }
  }
}
