/**
 * `npm run bench -- <name> [args]`: runs a benchmark, prints one JSON line per figure, then a
 * table. `all` runs every benchmark and ends with a markdown table.
 */
import { formatMarkdown, formatTable, type Bench, type Figure } from './figures';

const BENCHES: Record<string, () => Bench> = {
  throughput: () => require('./throughput').run,
  memory: () => require('./memory').run,
  small: () => require('./small').run,
  hung: () => require('./hung').run,
  restart: () => require('./restart').run,
  reconnect: () => require('./reconnect').run,
  supervisor: () => require('./supervisor').run,
  startup: () => require('./startup').run,
  storage: () => require('./storage').run,
  s3: () => require('./s3').run,
  floor: () => require('./floor').run,
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  if (!name || !(name in BENCHES || name === 'all')) {
    console.error(`usage: npm run bench -- <${[...Object.keys(BENCHES), 'all'].join('|')}> [args]`);
    process.exit(2);
  }
  const names = name === 'all' ? Object.keys(BENCHES) : [name];
  const figures: Figure[] = [];
  for (const bench of names) {
    console.error(`== ${bench}`);
    for (const figure of await BENCHES[bench]()(args)) {
      console.log(JSON.stringify(figure));
      figures.push(figure);
    }
  }
  console.log('\n' + formatTable(figures));
  if (name === 'all') console.log('\n' + formatMarkdown(figures));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`bench failed: ${error instanceof Error ? error.stack : error}`);
    process.exit(1);
  },
);
