/** What a caught value says, for a log line or an error of our own: its message, or the value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
