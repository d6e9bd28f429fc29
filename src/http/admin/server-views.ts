import { withDeadline } from '../../util/deadline';
import type { ConnectionSupervisor } from '../../connection/types';
import { errorMessage } from '../../util/error-message';
import type { Logger } from '../../util/logger';
import { toConnectionView, type ConnectionView, type ServerDiskInfo } from './connection-view';

export type ServerInfoSource = () => Promise<ServerDiskInfo[]>;

/** Disk figures are a nice-to-have: a slow or failing source must not hold up the dashboard. */
const SERVER_INFO_TIMEOUT_MS = 2000;

/**
 * The current view of every server. The supervisor is read synchronously before any await, so a caller
 * that subscribed to transitions just before knows every later event is newer than this view.
 */
export function loadServerViews(
  supervisor: ConnectionSupervisor,
  serverInfo: ServerInfoSource | undefined,
  log: Logger,
): Promise<ConnectionView[]> {
  const servers = supervisor.snapshot();
  return diskInfoById(serverInfo, log).then((disk) =>
    servers.map((server) => toConnectionView(server, disk.get(server.serverId))),
  );
}

async function diskInfoById(serverInfo: ServerInfoSource | undefined, log: Logger) {
  const byId = new Map<string, ServerDiskInfo>();
  if (!serverInfo) return byId;
  try {
    const infos = await withDeadline(serverInfo(), SERVER_INFO_TIMEOUT_MS, () => new Error(`no answer within ${SERVER_INFO_TIMEOUT_MS} ms`));
    for (const info of infos) byId.set(info.serverId, info);
  } catch (error) {
    log.warn(`Showing servers without disk figures: ${errorMessage(error)}`);
  }
  return byId;
}
