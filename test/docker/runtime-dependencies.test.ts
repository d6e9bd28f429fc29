/**
 * The image installs only production dependencies (`npm ci --omit=dev`), so every package the
 * runtime code imports must be listed under "dependencies", not "devDependencies".
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { REPO_ROOT } from './compose-config';

const RUNTIME_FOLDERS = ['src', 'machines', 'docker'];
const SOURCE_FILE = /\.(ts|cts|mts|js|cjs|mjs)$/;
// Type-only imports are erased by the compiler, so they need no installed package.
const TYPE_ONLY_IMPORT = /^\s*(?:import|export)\s+type\b[^;]*;/gm;
const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return SOURCE_FILE.test(entry.name) ? [full] : [];
  });
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

test('runtime code imports only node built-ins, its own files and production dependencies', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const builtins = new Set(builtinModules);
  const files = RUNTIME_FOLDERS.flatMap((folder) => sourceFiles(path.join(REPO_ROOT, folder)));
  expect(files.length).toBeGreaterThan(0);

  const missing: string[] = [];
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8').replace(TYPE_ONLY_IMPORT, '');
    for (const [, specifier] of text.matchAll(IMPORT)) {
      if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
      const name = packageName(specifier);
      if (builtins.has(name) || name in manifest.dependencies) continue;
      missing.push(`${path.relative(REPO_ROOT, file)} imports "${specifier}"`);
    }
  }
  expect(missing).toEqual([]);
});
