/**
 * docker/Dockerfile read as text (no Docker engine here): the rules the image must keep, and
 * that everything it copies exists and is not excluded from the build context.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NODE_FLAGS } from '../../src/cli/node-flags';
import { REPO_ROOT } from './compose-config';

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function instructions(text: string): Instruction[] {
  return text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** Whether .dockerignore (an exclude-all file with `!path` exceptions) lets this path in. */
function includedInContext(ignoreLines: string[], source: string): boolean {
  const normalized = source.replace(/\/$/, '');
  return ignoreLines.some((line) => {
    if (!line.startsWith('!')) return false;
    const allowed = line.slice(1).replace(/\/$/, '');
    return normalized === allowed || normalized.startsWith(`${allowed}/`);
  });
}

const dockerfile = instructions(fs.readFileSync(path.join(REPO_ROOT, 'docker/Dockerfile'), 'utf8'));
const ofKind = (keyword: string) => dockerfile.filter((instruction) => instruction.keyword === keyword);

describe('docker/Dockerfile', () => {
  test('is multi-stage: production dependencies and the build each have their own stage', () => {
    const stages = ofKind('FROM').map((from) => from.args);
    expect(stages).toHaveLength(3);
    expect(stages[0]).toMatch(/ AS deps$/i);
    expect(stages[1]).toMatch(/ AS build$/i);
    const runs = ofKind('RUN').map((run) => run.args).join('\n');
    expect(runs).toContain('npm ci --omit=dev');
    expect(runs).toContain('npm run build');
    expect(ofKind('COPY').map((copy) => copy.args)).toEqual(expect.arrayContaining([
      '--from=deps /app/node_modules ./node_modules',
      '--from=build /app/dist ./dist',
    ]));
  });

  test('binds every interface, as a container must to be reachable', () => {
    const env = ofKind('ENV').map((instruction) => instruction.args).join(' ');
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    expect(env).toMatch(/\bGRPC_HOST=0\.0\.0\.0\b/);
  });

  test('runs as a non-root user', () => {
    const users = ofKind('USER').map((user) => user.args);
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^(root|0)(:|$)/);
  });

  test('has a HEALTHCHECK running the bundled script', () => {
    const [healthcheck] = ofKind('HEALTHCHECK');
    expect(healthcheck.args).toContain('CMD ["node", "docker/healthcheck.cjs"]');
    expect(fs.existsSync(path.join(REPO_ROOT, 'docker/healthcheck.cjs'))).toBe(true);
  });

  test('starts the ringstore CLI, the gateway by default', () => {
    // The compiled entry point (dist/ is built in the image): the source of its copy must exist.
    expect(ofKind('ENTRYPOINT').map((entry) => JSON.parse(entry.args))).toEqual([['node', ...NODE_FLAGS, 'dist/src/cli/ringstore.cjs']]);
    expect(ofKind('CMD').map((cmd) => JSON.parse(cmd.args))).toEqual([['gateway']]);
    expect(fs.existsSync(path.join(REPO_ROOT, 'src/cli/ringstore.cjs'))).toBe(true);
  });

  test('every path it copies from the build context exists and is not ignored', () => {
    const ignoreLines = fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split(/\r?\n/).map((line) => line.trim());
    const sources = ofKind('COPY')
      .filter((copy) => !copy.args.startsWith('--from='))
      .flatMap((copy) => copy.args.split(/\s+/).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts', 'src', 'machines', 'proto']));
    for (const source of sources) {
      expect({ source, exists: fs.existsSync(path.join(REPO_ROOT, source)) }).toEqual({ source, exists: true });
      expect({ source, inContext: includedInContext(ignoreLines, source) }).toEqual({ source, inContext: true });
    }
  });
});
