import type { ServerRecord } from '../metadata/types';

/** Past this share of its disk, a server counts as low on space even when PLACEMENT_MIN_FREE is larger. */
const LOW_SPACE_SHARE = 0.05;

/**
 * Each server's weight: its disk size (total_space from its heartbeats) against the mean of
 * the others', so a server with twice the disk gets twice the weight. A server that has not
 * reported its size counts as an average one.
 */
export function capacityWeights(servers: ReadonlyArray<Pick<ServerRecord, 'id' | 'totalSpace'>>): Map<string, number> {
  const known = servers.map((s) => s.totalSpace).filter((size): size is number => size !== null && size > 0);
  const mean = known.length === 0 ? 0 : known.reduce((a, b) => a + b, 0) / known.length;
  return new Map(servers.map((s) => [s.id, mean > 0 && s.totalSpace !== null && s.totalSpace > 0 ? s.totalSpace / mean : 1]));
}

/**
 * Whether the server's free space (as last reported) is under `minFreeBytes`, or under 5% of
 * its disk when that is smaller (a small disk is not low on space for a large setting). New
 * chunks go to it only when not enough other servers can take them, so it is avoided before
 * it refuses writes; a server that has not reported its space is not low on it.
 */
export function isLowOnSpace(server: Pick<ServerRecord, 'availableSpace' | 'totalSpace'>, minFreeBytes: number): boolean {
  if (server.availableSpace === null) return false;
  const threshold = server.totalSpace === null ? minFreeBytes : Math.min(minFreeBytes, server.totalSpace * LOW_SPACE_SHARE);
  return server.availableSpace < threshold;
}
