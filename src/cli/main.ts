// tsc copies the manifest into the build (dist/package.json), where this import finds it.
import manifest from '../../package.json';
import { ConfigError } from '../util/env';
import { EXIT_PORT_IN_USE, PortInUseError } from '../util/port-in-use';
import { ClientError, EXIT } from './client/exit-codes';
import { ADMIN_USAGE } from './admin-usage';
import * as CLIENT_USAGE from './client/usage';

/** A command's entry: resolves when it is done (servers: once started), with an exit code or not. */
type Command = (args: string[]) => Promise<number | void>;

interface CommandEntry {
  summary: string;
  usage: string;
  load(): Command;
}

const ENV_NOTE = 'Configuration comes from environment variables (docs/configuration.md has the table).';

// Each command loads only its own code, when chosen: the client commands never load the gateway,
// and a storage server loads no gateway code. require(), not import(): from the sources, tsx/cjs
// hooks require() only, and a dynamic import() goes to Node's ESM loader, which cannot resolve
// extensionless .ts paths (ERR_MODULE_NOT_FOUND).
const COMMANDS: Record<string, CommandEntry> = {
  up: {
    summary: 'the whole system on one machine: gateway on :8080, 6 storage servers, embedded metadata',
    usage: `Usage: ringstore up [--data DIR] [--port N]

Starts the gateway (PORT, default 8080) and STORAGE_SERVERS storage servers (default 6) on
STORAGE_BASE_PORT and up (default 50051), with embedded metadata and data under DATA_DIR
(default ./data). Prints "ringstore is up" once every storage server is Ready (waits up to
UP_READY_TIMEOUT_MS, default 60000). Ctrl-C stops everything.

Options:
  --data DIR  data directory (DATA_DIR)
  --port N    gateway port (PORT)
${ENV_NOTE}`,
    load: () => (require('../gateway/up') as typeof import('../gateway/up')).runUp,
  },
  gateway: {
    summary: 'the HTTP gateway alone (DATABASE_URL for PostgreSQL, else embedded)',
    usage: `Usage: ringstore gateway [--port N] [--host H] [--data DIR]

The HTTP gateway alone, for a deployment of several machines: storage servers join it with
--join. Metadata in PostgreSQL with DATABASE_URL, else embedded under DATA_DIR.

Options:
  --port N    port (PORT, default 8080)
  --host H    address to bind (HOST, default 127.0.0.1)
  --data DIR  data directory (DATA_DIR, default ./data)
${ENV_NOTE}`,
    load: () => (require('../gateway/command') as typeof import('../gateway/command')).runGateway,
  },
  storage: {
    summary: 'one storage server (--port, --data, --host, --join)',
    usage: `Usage: ringstore storage [--port N] [--host H] [--data DIR] [--join URL] [--advertise HOST:PORT]

One storage server (gRPC). It keeps a stable id in its data directory and joins a gateway.

Options:
  --port N               gRPC port (GRPC_PORT, default 50051)
  --host H               address to bind (GRPC_HOST, default 127.0.0.1)
  --data DIR             data directory (DATA_DIR)
  --join URL             gateway to join and heartbeat to (JOIN_URL)
  --advertise HOST:PORT  address the gateway should dial, when not the bound one
${ENV_NOTE}`,
    load: () => (require('../storage/main') as typeof import('../storage/main')).runStorage,
  },
  put: {
    summary: 'upload files (FILE... or - for standard input)',
    usage: CLIENT_USAGE.PUT_USAGE,
    load: () => (require('./client/put') as typeof import('./client/put')).runPut,
  },
  get: {
    summary: 'download a file (resumes an interrupted download)',
    usage: CLIENT_USAGE.GET_USAGE,
    load: () => (require('./client/get') as typeof import('./client/get')).runGet,
  },
  cat: {
    summary: "write a file's bytes to standard output",
    usage: CLIENT_USAGE.CAT_USAGE,
    load: () => (require('./client/get') as typeof import('./client/get')).runCat,
  },
  ls: {
    summary: 'list files (paged, --name to filter)',
    usage: CLIENT_USAGE.LS_USAGE,
    load: () => (require('./client/ls') as typeof import('./client/ls')).runLs,
  },
  stat: {
    summary: "show a file's metadata",
    usage: CLIENT_USAGE.STAT_USAGE,
    load: () => (require('./client/stat') as typeof import('./client/stat')).runStat,
  },
  rm: {
    summary: 'delete files',
    usage: CLIENT_USAGE.RM_USAGE,
    load: () => (require('./client/rm') as typeof import('./client/rm')).runRm,
  },
  admin: {
    summary: 'cluster changes: servers, drain, undrain, remove, rebalance (ADMIN_TOKEN)',
    usage: ADMIN_USAGE,
    load: () => (require('./admin') as typeof import('./admin')).runAdmin,
  },
};

const SERVER_COMMANDS = ['up', 'gateway', 'storage'];
const OPERATOR_COMMANDS = ['admin'];

const FILE_COMMANDS = Object.keys(COMMANDS).filter((name) => !SERVER_COMMANDS.includes(name) && !OPERATOR_COMMANDS.includes(name));

/** One line per command: its name, then its summary. */
const summaries = (names: string[]) => names.map((name) => `  ${name.padEnd(8)}  ${COMMANDS[name].summary}`).join('\n');

const USAGE = `Usage: ringstore <command> [options]
       ringstore <command> --help
       ringstore --version

Servers:
${summaries(SERVER_COMMANDS)}

Files (talk to a gateway: --url or RINGSTORE_URL, token in RINGSTORE_TOKEN):
${summaries(FILE_COMMANDS)}

Cluster (talk to a gateway: --url or RINGSTORE_URL, token in ADMIN_TOKEN):
${summaries(OPERATOR_COMMANDS)}

${ENV_NOTE}`;

function version(): string {
  return `ringstore ${manifest.version}`;
}

async function main(argv: string[]): Promise<number | void> {
  const [name, ...args] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(version());
    return EXIT.ok;
  }
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? COMMANDS[args[0]] : undefined;
    console.log(topic ? topic.usage : USAGE);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`ringstore: unknown command "${name}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (args.includes('--help') || args.includes('-h')) {
    console.log(command.usage);
    return EXIT.ok;
  }
  currentUsage = command.usage;
  return command.load()(args);
}

/** The usage to show with an option error: the command's own once one is chosen. */
let currentUsage = USAGE;

main(process.argv.slice(2)).then(
  // A client command is done when it returns; a server command keeps running (no code).
  (code) => {
    if (typeof code === 'number') process.exit(code);
  },
  (error: unknown) => {
    // Bad configuration is one clear line, not a stack trace.
    if (error instanceof ConfigError) {
      console.error(`ringstore: configuration error: ${error.message}`);
      process.exit(2);
    }
    if (error instanceof PortInUseError) {
      console.error(`ringstore: ${error.message}`);
      process.exit(EXIT_PORT_IN_USE);
    }
    if (error instanceof ClientError) {
      console.error(`ringstore: ${error.message}${error.exitCode === EXIT.usage ? `\n\n${currentUsage}` : ''}`);
      process.exit(error.exitCode);
    }
    // An unknown or malformed option (util.parseArgs): say which, and how to call us.
    if ((error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS_')) {
      console.error(`ringstore: ${(error as Error).message}\n\n${currentUsage}`);
      process.exit(2);
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR') {
      console.error(`ringstore: ${(error as Error).message}`);
      process.exit(EXIT.failed);
    }
    console.error('ringstore: fatal:', error);
    process.exit(1);
  },
);
