/** 1536 -> "1.5 KiB": sizes and rates for people. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Bytes over seconds as "12.3 MiB/s". */
export function formatRate(bytes: number, seconds: number): string {
  return `${formatBytes(seconds > 0 ? Math.round(bytes / seconds) : 0)}/s`;
}
