import type { ByteRange } from '../files/byte-range';
import { HttpError } from './http-error';

/**
 * Parses a single-range `Range: bytes=...` header against a file size. Returns undefined
 * when there is no Range header (serve the whole file); throws 416 when the range cannot be
 * served (unsatisfiable, reversed, malformed, or several ranges).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const unsatisfiable = (why: string) =>
    new HttpError(416, `range not satisfiable: ${why}`, { size }, { 'Content-Range': `bytes */${size}` });
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!match) throw unsatisfiable(`only "bytes=" ranges are supported, got "${header.slice(0, 100)}"`);
  const spec = match[1].trim();
  if (spec.includes(',')) throw unsatisfiable('multiple ranges are not supported; request one range at a time');
  const parts = /^(\d*)-(\d*)$/.exec(spec);
  if (!parts || (parts[1] === '' && parts[2] === '')) throw unsatisfiable(`malformed range "${spec.slice(0, 100)}"`);
  if (parts[1] === '') {
    // Suffix range: the last N bytes.
    const suffix = Number(parts[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable('empty suffix range');
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(parts[1]);
  const end = parts[2] === '' ? size - 1 : Math.min(Number(parts[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) throw unsatisfiable(`start ${parts[1]} is beyond the file size ${size}`);
  if (parts[2] !== '' && Number(parts[2]) < start) throw unsatisfiable(`range end ${parts[2]} is before its start ${start}`);
  return { start, end };
}
