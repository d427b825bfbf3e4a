/** Why the kubeconfig's credentials could not be had, in words a person can act on and that never quote a credential. */
import { failureText } from "../../domain/failure-text.ts"

/**
 * The words for a failure to get the credentials (an exec credential plugin that failed or printed no ExecCredential,
 * a token file that cannot be read). JSON.parse's message quotes the text around its fault: a plugin's output, which
 * holds the token, so it is not shown. client-node rejects a plugin that exits non-zero with its stderr as the message.
 */
export const credentialsFailureDetail = (cause: unknown): string => {
  if (cause instanceof SyntaxError) return "the credential plugin's output is not a valid ExecCredential JSON document (not shown: it may hold the token)"
  if (cause instanceof Error && cause.message.trim() === "") return "the kubeconfig's credential plugin failed, and wrote nothing on its stderr"
  return failureText(cause)
}
