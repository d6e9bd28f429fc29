/**
 * One owner per data directory: two storage servers on one directory would clear each other's
 * in-flight puts and claim the same server id, and two embedded metadata databases on one
 * directory would corrupt it. A LOCK file names the owner (pid and, on Linux, the process start
 * time, so a pid reused by another process after a restart does not count as the owner); a
 * lock whose owner no longer runs (kill -9) is taken over.
 *
 * Plain CommonJS so the embedded metadata database's child process (src/metadata/pglite-child.cjs),
 * which runs without a TypeScript loader, uses the same code as the storage server. Types are
 * in data-dir-lock.d.cts.
 */
'use strict';
const fs = require('node:fs/promises');
const { readFileSync } = require('node:fs');
const path = require('node:path');

const POLL_MS = 50;
/** link() errors of filesystems without hard links: create the lock with O_EXCL instead. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Take the LOCK file of `dir` (created if missing) for this process; resolves with its release.
 * While a live process holds it, retries for up to options.waitMs (default 0: fail at once,
 * for an owner that is exiting after its parent went away), then throws
 * options.createError(message).
 */
async function lockDataDir(dir, options = {}) {
  const { what = 'data directory', owner = 'ringstore process', waitMs = 0, createError = (message) => new Error(message) } = options;
  await fs.mkdir(dir, { recursive: true });
  const lockPath = path.join(dir, 'LOCK');
  const mine = `${[process.pid, startTime(process.pid)].filter((part) => part !== undefined).join(' ')}\n`;
  // Written in full first, then linked into place: the link is atomic, so nobody ever reads a
  // LOCK that exists but is still empty (and would take it for a stale one).
  const draft = `${lockPath}.${process.pid}.tmp`;
  await fs.writeFile(draft, mine);
  const deadline = Date.now() + waitMs;
  try {
    for (;;) {
      if (await create(draft, lockPath, mine)) {
        return async () => {
          if ((await fs.readFile(lockPath, 'utf8').catch(() => '')) === mine) await fs.rm(lockPath, { force: true });
        };
      }
      const held = await fs.readFile(lockPath, 'utf8').catch(() => undefined);
      if (held === undefined) continue; // released meanwhile
      const holder = parse(held);
      if (holder && isRunning(holder)) {
        if (Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          continue;
        }
        const waited = waitMs > 0 ? ` (waited ${+(waitMs / 1000).toFixed(1)} s for it to exit)` : '';
        throw createError(`${what} ${dir} is in use by process ${holder.pid}${waited}; stop it, or remove ${lockPath} if that process is not a ${owner}`);
      }
      await removeIfUnchanged(lockPath, held);
    }
  } finally {
    await fs.rm(draft, { force: true });
  }
}

/** Put the lock in place unless there is one; false if there is. */
async function create(draft, lockPath, content) {
  try {
    await fs.link(draft, lockPath);
    return true;
  } catch (error) {
    if (error.code === 'EEXIST') return false;
    if (!NO_HARD_LINKS.has(error.code)) throw error;
  }
  try {
    await fs.writeFile(lockPath, content, { flag: 'wx' });
    return true;
  } catch (error) {
    if (error.code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Remove a stale lock, unless another process took it over since we read it: two processes
 * could both find the same stale lock, and the slower one must not delete the faster one's
 * fresh lock. Moving it aside is atomic; if what moved is not what we judged stale, it goes back.
 */
async function removeIfUnchanged(lockPath, stale) {
  const aside = `${lockPath}.${process.pid}.stale`;
  try {
    await fs.rename(lockPath, aside);
  } catch (error) {
    if (error.code === 'ENOENT') return;
    throw error;
  }
  if ((await fs.readFile(aside, 'utf8')) !== stale) await fs.rename(aside, lockPath);
  else await fs.rm(aside, { force: true });
}

function parse(text) {
  const [pid, start] = text.trim().split(/\s+/);
  const parsed = Number(pid);
  return Number.isInteger(parsed) && parsed > 0 ? { pid: parsed, start } : undefined;
}

function isRunning({ pid, start }) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (error.code !== 'EPERM') return false;
  }
  // A lock without a start time (written elsewhere than Linux) has only the pid to go by; one
  // naming this very process was left by an earlier process with our pid (a restarted container).
  if (start === undefined) return pid !== process.pid;
  const now = startTime(pid);
  return now === undefined || now === start;
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), Linux only. */
function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the parenthesised command name (which may hold spaces) start at field 3.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

module.exports = { lockDataDir };
