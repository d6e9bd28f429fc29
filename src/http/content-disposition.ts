/**
 * `Content-Disposition: attachment` for any filename, as one safe header (RFC 6266): an ASCII
 * fallback in `filename=` and the exact name UTF-8 percent-encoded in `filename*=` (RFC 5987).
 */
export function contentDisposition(filename: string): string {
  // eslint-disable-next-line no-control-regex
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_').replace(/[\r\n]/g, '_') || 'download';
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
