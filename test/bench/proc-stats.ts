import { readdirSync, readFileSync } from 'node:fs';

/** Figures of running processes, read from /proc (Linux). 0 or '' once a process is gone. */

/** NUL-separated arguments of a process. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** Resident set size, in kB: what `ps` and the figures count. */
export function rssKb(pid: number): number {
  return statusField(`/proc/${pid}/status`, 'VmRSS');
}

/**
 * Proportional set size, in kB: pages shared between processes (node's own code, mapped by
 * every node process) are split among them, so PSS adds up to what the machine really spends.
 */
export function pssKb(pid: number): number {
  return statusField(`/proc/${pid}/smaps_rollup`, 'Pss');
}

function statusField(file: string, name: string): number {
  try {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(readFileSync(file, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Pids whose parent is `parent`. */
export function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** `root` and every process below it. */
export function processTree(root: number): number[] {
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...childPids(tree[i]));
  return tree;
}
