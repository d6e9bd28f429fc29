import type { StatelyInspectionEvent } from '@statelyai/inspect';
import type { InspectionEvent } from 'xstate';
import type WebSocket from 'ws';
import { ConfigError } from '../util/env';
import { guardInspector } from '../connection/guard-inspector';
import type { Logger } from '../util/logger';

/** Any inspect observer, wrapped so a throw is logged once and never reaches the actors. */
export { guardInspector as guardInspect } from '../connection/guard-inspector';

const RETRY_MS = 5000;
/** Events kept while the inspector is unreachable; older ones are dropped first. */
const MAX_BACKLOG = 200;
/** Inspected snapshots reference whole actor systems; deeper than this is cut off. */
const MAX_DEPTH = 10;

export interface RingstoreInspector {
  /** Pass as `inspect` to createActor (or to createConnectionSupervisor). */
  inspect: (event: InspectionEvent) => void;
  /** Closes the WebSocket and stops retrying, so the process can exit. */
  stop(): void;
}

/**
 * XState inspection for Stately's inspector when RINGSTORE_INSPECT=<ws url> is set; undefined
 * otherwise. Events are built by @statelyai/inspect exactly as createWebSocketInspector builds
 * them; only the transport is ours, because the library's retries every 5 s forever, even after
 * stop(), which would keep a stopping gateway alive while the inspector is unreachable.
 */
export function createInspector(url: string | undefined, log: Logger): RingstoreInspector | undefined {
  if (!url) return undefined;
  if (!/^wss?:\/\/[^/]/.test(url)) {
    throw new ConfigError(`RINGSTORE_INSPECT must be a ws:// or wss:// URL, got "${url}"`);
  }
  // Loaded only when inspection is asked for: a gateway without it does not carry them in
  // memory. @statelyai/inspect is an ES module, which Node 20 can require.
  const stately = require('@statelyai/inspect') as typeof import('@statelyai/inspect');
  const transport = new WebSocketTransport(url, log, require('ws') as typeof WebSocket);
  const inspector = stately.createInspector(transport);
  inspector.start();
  log.info(`XState inspector: sending actor events to ${url}`);
  return { inspect: guardInspector(inspector.inspect, log), stop: () => inspector.stop() };
}

/** Sends inspection events over one WebSocket, reconnecting until stopped (a Stately `Adapter`). */
class WebSocketTransport {
  private socket: WebSocket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private warned = false;
  private readonly backlog: string[] = [];

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly WebSocketClass: typeof WebSocket,
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.socket?.terminate();
    this.socket = undefined;
  }

  send(event: StatelyInspectionEvent): void {
    const text = toSafeJson(event);
    if (this.socket?.readyState === this.WebSocketClass.OPEN) {
      this.socket.send(text);
      return;
    }
    this.backlog.push(text);
    if (this.backlog.length > MAX_BACKLOG) this.backlog.shift();
  }

  private open(): void {
    const socket = new this.WebSocketClass(this.url);
    this.socket = socket;
    socket.on('open', () => {
      this.warned = false;
      this.log.info(`XState inspector connected at ${this.url}`);
      for (const text of this.backlog.splice(0)) socket.send(text);
    });
    socket.on('error', (error) => {
      if (this.stopped || this.warned) return;
      this.warned = true;
      this.log.warn(`XState inspector at ${this.url} is unreachable (${error.message}); retrying every ${RETRY_MS / 1000} s`);
    });
    socket.on('close', () => {
      if (this.stopped || this.socket !== socket) return;
      this.retryTimer = setTimeout(() => this.open(), RETRY_MS);
      this.retryTimer.unref();
    });
  }
}

/** JSON that survives cycles, functions and bigints, cut off below MAX_DEPTH. */
function toSafeJson(value: unknown): string {
  const depthOf = new WeakMap<object, number>();
  return JSON.stringify(value, function (this: unknown, _key, item: unknown) {
    if (typeof item === 'function') return { type: item.name };
    if (typeof item === 'bigint') return item.toString();
    if (item === null || typeof item !== 'object') return item;
    if (depthOf.has(item)) return '[Circular]';
    const holderDepth = typeof this === 'object' && this !== null ? depthOf.get(this) ?? 0 : 0;
    if (holderDepth >= MAX_DEPTH) return '[Object]';
    depthOf.set(item, holderDepth + 1);
    return item;
  });
}
