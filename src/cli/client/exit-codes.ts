/**
 * Exit codes of the client commands, for scripts (docs/cli.md lists them). With several
 * files, every file is attempted and the command exits with the code of the first failure.
 */
export const EXIT = {
  ok: 0,
  /** Anything else: a local file that cannot be read or written, a bad answer. */
  failed: 1,
  /** Wrong command line. */
  usage: 2,
  /** No such file on the server (404), or a malformed id (400). */
  notFound: 3,
  /** The token is missing or not accepted (401, 403): set RINGSTORE_TOKEN. */
  refused: 4,
  /** The gateway cannot be reached or is not able to serve now (connection refused, 5xx). */
  unavailable: 5,
  /** The bytes do not match the file's SHA-256: nothing was kept as if it were whole. */
  corrupt: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure of one client operation, with the message to print and the exit code it means. */
export class ClientError extends Error {
  constructor(message: string, readonly exitCode: ExitCode) {
    super(message);
    this.name = 'ClientError';
  }
}

/** The exit code an HTTP error status means. */
export function exitCodeForStatus(status: number): ExitCode {
  if (status === 404 || status === 400) return EXIT.notFound;
  if (status === 401 || status === 403) return EXIT.refused;
  if (status >= 500) return EXIT.unavailable;
  return EXIT.failed;
}
