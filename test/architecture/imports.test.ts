import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The layering rules of docs/architecture.md, checked from the imports of every module in src/
 * and machines/. A rule broken here is an architecture decision to make on purpose (change the
 * table below and the document together), never an accident.
 */
const ROOT = path.resolve(__dirname, '../..');

/** Folders of src/ (and machines/) each folder may import, and those it may import only types from. */
const ALLOWED: Record<string, { uses: string[]; typesFrom?: string[] }> = {
  util: { uses: [] },
  security: { uses: ['util'] },
  wire: { uses: ['util'] },
  rpc: { uses: ['wire', 'util'] },
  metadata: { uses: ['util'] },
  connection: { uses: ['machines', 'rpc', 'wire', 'security', 'util'] },
  replicas: { uses: ['connection', 'rpc', 'wire', 'metadata', 'util'] },
  files: { uses: ['replicas', 'metadata', 'util'] },
  jobs: { uses: ['replicas', 'metadata', 'observability', 'util'] },
  observability: { uses: ['connection', 'machines', 'util'] },
  http: { uses: ['files', 'observability', 'security', 'util'], typesFrom: ['connection', 'machines', 'metadata', 'jobs'] },
  s3: { uses: ['http', 'files', 'objects', 'observability', 'security', 'util'], typesFrom: ['metadata'] },
  objects: { uses: ['files', 'replicas', 'metadata', 'util'] },
  storage: { uses: ['wire', 'security', 'util'] },
  gateway: { uses: ['*'] },
  cli: { uses: ['gateway', 'storage', 'util'] },
  machines: { uses: [] },
};

/** Packages that speak gRPC: only the layers that talk to storage servers (and the servers) load them. */
const GRPC_PACKAGES = /^(@grpc\/grpc-js|@grpc\/proto-loader|grpc-health-check)(\/|$)/;
const GRPC_FOLDERS = new Set(['wire', 'rpc', 'connection', 'replicas', 'storage']);
/** Express is the HTTP layer's; below it nothing knows about requests and responses. */
const HTTP_PACKAGES = /^(express|busboy)(\/|$)/;
const HTTP_FOLDERS = new Set(['http', 's3', 'gateway']);

interface Import {
  from: string;
  specifier: string;
  /** Resolved module path (relative imports), relative to the repository. */
  target?: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(relative);
    return /\.(ts|cjs)$/.test(entry.name) && !entry.name.endsWith('.d.cts') ? [relative] : [];
  });
}

function resolve(from: string, specifier: string): string | undefined {
  const base = path.join(path.dirname(from), specifier);
  return ['', '.ts', '.cjs', '/index.ts'].map((ext) => base + ext).find((candidate) => /\.(ts|cjs)$/.test(candidate) && existsSync(path.join(ROOT, candidate)));
}

function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const found: Import[] = [];
  const patterns = [
    /^\s*(import|export)\s+(type\s+)?[^'"]*?\sfrom\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const [index, pattern] of patterns.entries()) {
    for (const match of text.matchAll(pattern)) {
      const specifier = index === 0 ? match[3] : match[1];
      // `import type ...`, or `typeof import('...')` in a type position; require() always loads.
      const typeOnly = index === 0 ? Boolean(match[2]) : index === 3 && /typeof\s*$/.test(text.slice(Math.max(0, match.index! - 10), match.index));
      const target = specifier.startsWith('.') ? resolve(file, specifier) : undefined;
      found.push({ from: file, specifier, target, typeOnly });
    }
  }
  return found;
}

/** 'src/http/routes/files.ts' -> 'http'; 'machines/connection.ts' -> 'machines'. */
function folderOf(file: string): string {
  const parts = file.split(path.sep);
  return parts[0] === 'machines' ? 'machines' : parts[1];
}

const files = [...sourceFiles('src'), ...sourceFiles('machines')];
const imports = files.flatMap(importsOf);

describe('architecture: the imports keep to the layers', () => {
  it('finds the modules it checks', () => {
    expect(files.length).toBeGreaterThan(80);
    expect(imports.filter((i) => i.target).length).toBeGreaterThan(200);
    for (const file of files) expect(Object.keys(ALLOWED)).toContain(folderOf(file));
  });

  it('every folder imports only the layers it may use', () => {
    const broken: string[] = [];
    for (const { from, specifier, target, typeOnly } of imports) {
      if (!target) continue;
      if (!target.startsWith('src') && !target.startsWith('machines')) {
        broken.push(`${from} imports ${specifier}, outside src/ and machines/`);
        continue;
      }
      const mine = folderOf(from);
      const theirs = folderOf(target);
      if (mine === theirs) continue;
      const rule = ALLOWED[mine];
      if (rule.uses.includes('*') || rule.uses.includes(theirs)) continue;
      if (typeOnly && rule.typesFrom?.includes(theirs)) continue;
      broken.push(`${from} imports ${typeOnly ? 'types from ' : ''}${specifier} (${mine} -> ${theirs})`);
    }
    expect(broken).toEqual([]);
  });

  it('only the layers that talk to storage servers load gRPC, and only the HTTP layer Express', () => {
    const broken = imports
      .filter(({ from, specifier }) =>
        (GRPC_PACKAGES.test(specifier) && !GRPC_FOLDERS.has(folderOf(from))) ||
        (HTTP_PACKAGES.test(specifier) && !HTTP_FOLDERS.has(folderOf(from))))
      .map(({ from, specifier }) => `${from} imports ${specifier}`);
    expect(broken).toEqual([]);
  });

  it('the storage server process loads no gateway code', () => {
    const loaded = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      for (const { target, typeOnly } of imports.filter((i) => i.from === file)) if (target && !typeOnly) visit(target);
    };
    visit(path.join('src', 'storage', 'main.ts'));
    const outside = [...loaded].filter((file) => !['storage', 'wire', 'util', 'security'].includes(folderOf(file)));
    expect(loaded.size).toBeGreaterThan(10);
    expect(outside).toEqual([]);
  });

  it('the client commands (src/cli/client) talk HTTP to a gateway: they load no server code, only src/util', () => {
    const client = path.join('src', 'cli', 'client') + path.sep;
    const broken = imports
      .filter(({ from, target }) => from.startsWith(client) && target && !target.startsWith(client) && folderOf(target) !== 'util')
      .map(({ from, specifier }) => `${from} imports ${specifier}`);
    expect(imports.some(({ from }) => from.startsWith(client))).toBe(true);
    expect(broken).toEqual([]);
  });

  it('nothing but the CLI reaches the gateway composition root', () => {
    const broken = imports
      .filter(({ from, target }) => target && folderOf(target) === 'gateway' && !['gateway', 'cli'].includes(folderOf(from)))
      .map(({ from, specifier }) => `${from} imports ${specifier}`);
    expect(broken).toEqual([]);
  });
});
