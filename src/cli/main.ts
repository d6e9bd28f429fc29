import { ConfigError } from '../util/env';

const USAGE = `Usage: ringstore <command> [options]

Commands:
  up        the whole system on one machine: gateway on :8080, 6 storage servers, embedded metadata
            (--data DIR, --port N)
  gateway   the HTTP gateway alone (DATABASE_URL for PostgreSQL, else embedded)
  storage   one storage server (--port, --data, --host, --join)
  admin     cluster changes: servers, drain, undrain, remove, rebalance ("ringstore admin" for more)

Configuration comes from environment variables; see README.md for the table.`;

type Command = (args: string[]) => Promise<void>;

// require(), not import(): tsx/cjs hooks require() only, and a dynamic import() goes to Node's
// ESM loader, which cannot resolve extensionless .ts paths (ERR_MODULE_NOT_FOUND).
const commands: Record<string, () => Promise<Command>> = {
  up: async () => (require('../gateway/up') as typeof import('../gateway/up')).runUp,
  gateway: async () => (require('../gateway/command') as typeof import('../gateway/command')).runGateway,
  storage: async () => (require('../storage/main') as typeof import('../storage/main')).runStorage,
  admin: async () => (require('./admin') as typeof import('./admin')).runAdmin,
};

async function main(argv: string[]): Promise<void> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(USAGE);
    return;
  }
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const load = commands[name];
  if (!load) {
    console.error(`ringstore: unknown command "${name}"\n\n${USAGE}`);
    process.exit(2);
  }
  const run = await load();
  await run(args);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // Bad configuration is one clear line, not a stack trace.
  if (error instanceof ConfigError) {
    console.error(`ringstore: configuration error: ${error.message}`);
    process.exit(2);
  }
  // An unknown or malformed option (util.parseArgs): say which, and how to call us.
  if ((error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS_')) {
    console.error(`ringstore: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error('ringstore: fatal:', error);
  process.exit(1);
});
