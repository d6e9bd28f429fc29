import { formatBytes as formatBytesIn } from '../../util/format-bytes.cjs';

/** 1536 -> "1.50 KiB": sizes and rates for people. */
export function formatBytes(bytes: number): string {
  return formatBytesIn(bytes, 'precise');
}

/** Bytes over seconds as "12.3 MiB/s". */
export function formatRate(bytes: number, seconds: number): string {
  return `${formatBytes(seconds > 0 ? Math.round(bytes / seconds) : 0)}/s`;
}
