/**
 * Sizes for people: 1536 -> "1.5 KiB". One formatter for the CLI and the pages: plain
 * CommonJS so TypeScript requires it (types in format-bytes.d.cts) and the admin and files
 * pages inline it as a script of its own, where it is a global function.
 *
 * Each caller keeps the precision it always showed:
 * - 'tenths': one decimal ("1.0 MiB"; the admin commands, the cluster panel);
 * - 'precise': two decimals below 10 ("1.50 MiB", "12.3 MiB"; the file commands, the files page);
 * - 'compact': none from 100 up ("1.5 GiB", "250 GiB"; the dashboard's disk line).
 * Less than 1 KiB is the number as it is ("512 B").
 */
'use strict';

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

function formatBytes(bytes, style) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return bytes + ' B';
  const decimals = style === 'precise' ? (value < 10 ? 2 : 1) : style === 'compact' && value >= 100 ? 0 : 1;
  return value.toFixed(decimals) + ' ' + BYTE_UNITS[unit];
}

if (typeof module !== 'undefined') module.exports = { formatBytes };
