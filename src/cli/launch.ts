import path from 'node:path';
import { NODE_FLAGS } from './node-flags';

/**
 * Whether this code runs from its TypeScript sources, through tsx's loader (development, the
 * tests), rather than from the compiled build in dist/ (npm start, the package's bin, Docker).
 */
const FROM_SOURCES = path.extname(__filename) === '.ts';

/** The `ringstore` entry point beside this module: in dist/src/cli/ or in src/cli/. */
export const CLI_ENTRY = path.join(__dirname, 'ringstore.cjs');

/**
 * node's arguments to run `ringstore <args>` in a new process the way this one runs: the build
 * with plain node, or the sources with tsx's loader, so a child never runs other code than its
 * parent (a stale build, or sources through a loader production does not have). `flags` follow
 * NODE_FLAGS, and win over them.
 */
export function ringstoreNodeArgs(args: string[], flags: readonly string[] = []): string[] {
  // Resolved here, not by the child: it may run in a directory that has no node_modules.
  const loader = FROM_SOURCES ? ['--require', require.resolve('tsx/cjs')] : [];
  return [...NODE_FLAGS, ...flags, ...loader, CLI_ENTRY, ...args];
}
