import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A page as one self-contained HTML document, so it works offline, from any mount point, with a
 * single request: `html` (in `dir`) with each `/* name *\/` placeholder replaced by the file
 * `parts` lists under that name (its path from `dir`, for files other pages share).
 */
export function inlinePage(dir: string, html: string, parts: readonly string[]): string {
  const read = (file: string) => readFileSync(path.join(dir, file), 'utf8');
  let page = read(html);
  for (const part of parts) page = page.replace(`/* ${path.basename(part)} */`, () => read(part));
  return page;
}
