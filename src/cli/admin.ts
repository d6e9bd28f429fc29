import { parseArgs } from 'node:util';
import { formatBytes } from '../util/format-bytes.cjs';
import { ADMIN_USAGE as USAGE } from './admin-usage';


const DEFAULT_URL = 'http://127.0.0.1:8080';
/** How often --wait asks the gateway for progress. */
const POLL_MS = 2_000;

/** Exit codes: 0 done, 1 refused or failed, 2 wrong command line, 3 no such server, 4 token refused, 5 gateway unreachable or unavailable. */
class AdminError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** GET /admin/servers, the parts this command prints. */
interface ServersView {
  servers: Array<{
    server_id: string;
    address: string;
    live: boolean;
    state: string | null;
    membership: string;
    chunks: number;
    bytes: number;
    copies_to_delete: number;
    deviation_percent: number | null;
    available_space: number | null;
    total_space: number | null;
    drain: { percent_done: number; chunks_left: number; bytes_left: number } | null;
  }>;
  balance: { band_percent: number; balanced: boolean; servers_outside_band: number; bytes_to_move: number };
  drain: MoveRun | null;
  rebalance: MoveRun | null;
}

interface MoveRun {
  running: boolean;
  gateway_id: string;
  started_at: string;
  finished_at: string | null;
  outcome: string | null;
  report: Record<string, number>;
}

/** `ringstore admin ...`: the operator's cluster changes, over the gateway's HTTP API. */
export async function runAdmin(args: string[]): Promise<number> {
  try {
    await dispatch(args);
    return 0;
  } catch (error) {
    if (!(error instanceof AdminError)) throw error;
    console.error(`ringstore admin: ${error.message}`);
    return error.exitCode;
  }
}

async function dispatch(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        wait: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new AdminError(`${(error as Error).message}\n\n${USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  const [command, server, ...extra] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  const needsServer = ['drain', 'undrain', 'remove'].includes(command);
  if ((needsServer && !server) || (!needsServer && server) || extra.length > 0) {
    throw new AdminError(`wrong arguments for "${command}"\n\n${USAGE}`, 2);
  }
  const gateway = new AdminClient(values.url ?? process.env.RINGSTORE_URL ?? DEFAULT_URL, process.env.ADMIN_TOKEN || undefined);
  switch (command) {
    case 'servers': {
      const view = await gateway.json<ServersView>('GET', '/admin/servers');
      console.log(values.json ? JSON.stringify(view, null, 2) : formatServers(view));
      return;
    }
    case 'drain': {
      const drained = await gateway.json<{ server_id: string; membership: string }>('POST', `/admin/servers/${encodeURIComponent(server!)}/drain`);
      console.log(`server ${drained.server_id}: ${drained.membership}`);
      if (values.wait) await followDrain(gateway, drained.server_id);
      return;
    }
    case 'undrain': {
      const back = await gateway.json<{ server_id: string; membership: string }>('POST', `/admin/servers/${encodeURIComponent(server!)}/undrain`);
      console.log(`server ${back.server_id}: ${back.membership}`);
      return;
    }
    case 'remove': {
      const removal = await gateway.json<{ server_id: string; chunks: number; replicas_dropped: number; chunks_only_there: number }>(
        'DELETE',
        `/admin/servers/${encodeURIComponent(server!)}${values.force ? '?force=true' : ''}`,
      );
      console.log(`server ${removal.server_id}: removed`);
      if (removal.chunks > 0) {
        console.log(`  forced while it held ${removal.chunks} chunks: ${removal.replicas_dropped} replicas dropped (repair restores them from their other copies), ${removal.chunks_only_there} chunks recorded only there`);
      }
      return;
    }
    case 'rebalance': {
      const asked = Date.now();
      const start = await gateway.json<{ rebalance: string; report?: Record<string, number> }>('POST', '/admin/servers/rebalance');
      if (start.report) console.log(`rebalance finished: ${formatReport(start.report)}`);
      else console.log('rebalance started');
      if (values.wait && !start.report) await followRebalance(gateway, asked);
      return;
    }
    default:
      throw new AdminError(`unknown command "${command}"\n\n${USAGE}`, 2);
  }
}

/** The gateway's admin API with ADMIN_TOKEN; failures are AdminErrors with the right exit code. */
class AdminClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {
    try {
      new URL(baseUrl);
    } catch {
      throw new AdminError(`--url (or RINGSTORE_URL) must be a URL such as ${DEFAULT_URL}, got "${baseUrl}"`, 2);
    }
  }

  async json<T>(method: string, path: string): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), { method, headers: this.token ? { Authorization: `Bearer ${this.token}` } : {} });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new AdminError(`cannot reach the gateway at ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, 5);
    }
    const text = await response.text();
    if (response.ok) return JSON.parse(text) as T;
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON: the text as it is
    }
    if (response.status === 401 || response.status === 403) {
      throw new AdminError(`the gateway refused the request (${response.status}): ${message}; set ADMIN_TOKEN`, 4);
    }
    const code = response.status === 404 ? 3 : response.status >= 500 ? 5 : 1;
    throw new AdminError(`${message} (${response.status})`, code);
  }
}

/** Prints the drain's progress as it changes, until the server is drained (or stops draining). */
async function followDrain(gateway: AdminClient, serverId: string): Promise<void> {
  let last = '';
  for (;;) {
    const view = await gateway.json<ServersView>('GET', '/admin/servers');
    const server = view.servers.find((s) => s.server_id === serverId);
    if (!server) throw new AdminError(`server ${serverId} is not listed any more`, 1);
    const line = server.drain
      ? `${server.membership}: ${server.drain.percent_done}% done, ${server.drain.chunks_left} chunks (${bytes(server.drain.bytes_left)}) left, ${server.copies_to_delete} moved copies still to delete`
      : server.membership;
    if (line !== last) console.log(`server ${serverId}: ${line}`);
    last = line;
    if (server.membership !== 'draining') return;
    await sleep(POLL_MS);
  }
}

/** Prints the rebalance's progress as it changes, until the run that began after `asked` ends. */
async function followRebalance(gateway: AdminClient, asked: number): Promise<void> {
  let last = '';
  for (;;) {
    const view = await gateway.json<ServersView>('GET', '/admin/servers');
    const run = view.rebalance;
    if (run && Date.parse(run.started_at) >= asked - 5_000) {
      const line = run.running ? `running: ${formatReport(run.report)}` : `${run.outcome ?? 'ended'}: ${formatReport(run.report)}`;
      if (line !== last) console.log(`rebalance ${line}`);
      last = line;
      if (!run.running) {
        console.log(balanceLine(view));
        return;
      }
    }
    await sleep(POLL_MS);
  }
}

function formatServers(view: ServersView): string {
  const rows = [['SERVER', 'ADDRESS', 'MEMBERSHIP', 'CONNECTION', 'CHUNKS', 'BYTES', 'VS SHARE', 'CAPACITY', 'FREE', 'PROGRESS']];
  for (const s of view.servers) {
    rows.push([
      s.server_id,
      s.address,
      s.membership,
      s.live ? (s.state ?? '-') : 'silent',
      String(s.chunks),
      bytes(s.bytes),
      s.deviation_percent === null ? '-' : `${s.deviation_percent > 0 ? '+' : ''}${s.deviation_percent.toFixed(1)}%`,
      s.total_space === null ? '-' : bytes(s.total_space),
      s.available_space === null ? '-' : bytes(s.available_space),
      s.drain
        ? `drain ${s.drain.percent_done}%, ${s.drain.chunks_left} chunks left` + (s.copies_to_delete > 0 ? `, ${s.copies_to_delete} copies to delete` : '')
        : '',
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
  lines.push('', balanceLine(view));
  for (const [job, run] of [['drain', view.drain], ['rebalance', view.rebalance]] as const) {
    if (!run) continue;
    const when = run.running ? `running since ${run.started_at}` : `last run ${run.outcome ?? 'ended'} at ${run.finished_at ?? run.started_at}`;
    lines.push(`${job}: ${when} (gateway ${run.gateway_id}): ${formatReport(run.report)}`);
  }
  return lines.join('\n');
}

function balanceLine(view: ServersView): string {
  const { balance } = view;
  return balance.balanced
    ? `balance: every active server within ${balance.band_percent}% of its share`
    : `balance: ${balance.servers_outside_band} servers outside ${balance.band_percent}% of their share, about ${bytes(balance.bytes_to_move)} to move ("ringstore admin rebalance")`;
}

function formatReport(report: Record<string, number>): string {
  return Object.entries(report)
    .map(([key, value]) => `${key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)} ${/bytes/i.test(key) ? bytes(value) : value}`)
    .join(', ');
}

/** Sizes at one decimal, as the dashboard's cluster panel shows them. */
function bytes(n: number): string {
  return formatBytes(n, 'tenths');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
