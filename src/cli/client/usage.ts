/** What `ringstore <command> --help` prints for the client commands (kept apart so help loads no client code). */

export const PUT_USAGE = `Usage: ringstore put [options] FILE...
       ringstore put [options] --name NAME -        (the file from standard input)

Uploads files, several at once, and prints each one's id. Each upload's SHA-256 is computed
while it is sent and checked against the one the gateway stored.

Options:
  --name NAME       file name to store standard input under (default stdin.bin)
  -j, --parallel N  uploads at once (default 4)
  --json            print a JSON array of results, one per file, and no progress
  --url URL         gateway (default RINGSTORE_URL, else http://127.0.0.1:8080)
Environment: RINGSTORE_URL, RINGSTORE_TOKEN (sent as the API token)`;

export const GET_USAGE = `Usage: ringstore get [options] ID [-o FILE]

Downloads a file (to its stored name in the current directory, or to FILE; a directory keeps
the stored name). It is written to FILE.part and renamed once its SHA-256 matches the one
stored; run the same command again after an interruption and it resumes where it stopped.

Options:
  -o, --output FILE  where to write it; - for standard output (as \`ringstore cat\`)
  --json             print {file_id, path, size, checksum, resumed_from} and no progress
  --url URL          gateway (default RINGSTORE_URL, else http://127.0.0.1:8080)
Environment: RINGSTORE_URL, RINGSTORE_TOKEN (sent as the API token)`;

export const CAT_USAGE = `Usage: ringstore cat [options] ID

Writes a file's bytes to standard output, then checks its SHA-256 (exit 6 if it differs).

Options:
  --url URL  gateway (default RINGSTORE_URL, else http://127.0.0.1:8080)
Environment: RINGSTORE_URL, RINGSTORE_TOKEN (sent as the API token)`;

export const LS_USAGE = `Usage: ringstore ls [options]

Lists files, newest first, a page at a time.

Options:
  -q, --name TEXT     only files whose name contains TEXT (case-insensitive)
  --page N            page to show (default 1)
  --per-page N        files per page (default 50, at most 1000)
  --all               every page
  --json              print the gateway's JSON ({files, total, ...}; with --all, every file)
  --url URL           gateway (default RINGSTORE_URL, else http://127.0.0.1:8080)
Environment: RINGSTORE_URL, RINGSTORE_TOKEN (sent as the API token)`;

export const STAT_USAGE = `Usage: ringstore stat [options] ID

Shows a file's metadata: name, size, type, SHA-256, dates, and where each chunk is stored.

Options:
  --json     print the gateway's metadata JSON
  --url URL  gateway (default RINGSTORE_URL, else http://127.0.0.1:8080)
Environment: RINGSTORE_URL, RINGSTORE_TOKEN (sent as the API token)`;

export const RM_USAGE = `Usage: ringstore rm [options] ID...

Deletes files, several at once; every one is tried.

Options:
  -j, --parallel N  deletes at once (default 4)
  --json            print a JSON array of results, one per ID
  --url URL         gateway (default RINGSTORE_URL, else http://127.0.0.1:8080)
Environment: RINGSTORE_URL, RINGSTORE_TOKEN (sent as the API token)`;
