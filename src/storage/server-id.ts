import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { isNodeError } from './chunk-store-error';

/**
 * The server's stable id: SERVER_ID when set, else the one kept in <data>/server-id, created
 * on first start (written to a temp file and renamed, so a crash never leaves an empty id).
 */
export async function loadOrCreateServerId(dataDir: string, override?: string): Promise<string> {
  if (override) return override;
  const idPath = path.join(dataDir, 'server-id');
  try {
    const stored = (await fs.readFile(idPath, 'utf8')).trim();
    if (stored) return stored;
  } catch (error) {
    if (!isNodeError(error, 'ENOENT')) throw error;
  }
  const id = randomUUID();
  const tempPath = `${idPath}.${process.pid}.tmp`;
  await fs.writeFile(tempPath, `${id}\n`, { flush: true });
  await fs.rename(tempPath, idPath);
  return id;
}
