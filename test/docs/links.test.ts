import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { anchorsOf, githubSlug, linksOf, proseOf } from './markdown';

/**
 * The documentation stays a front door plus docs/ that point only inside the repository:
 * README.md is small, every relative link and #anchor resolves, external links go only to the
 * public references listed below, and nothing names project material outside the repository.
 * Each check is also run on a broken example, so a check that can no longer fail is noticed.
 */
const ROOT = path.resolve(__dirname, '../..');

/** "Under 12 KB": the stricter reading, 12,000 bytes. */
const README_MAX_BYTES = 12_000;

/** Public references the documentation may link to; add one here on purpose, never a project file. */
const EXTERNAL_LINKS_ALLOWED = new Set(['https://stately.ai/inspect']);

/**
 * Names of project material that lives outside the repository (the team's design sketch and
 * the shared folder it sits in). Spelled in pieces so that this file does not name them itself.
 */
const OUTSIDE_POINTERS = [['DESIGN', 'md'].join('.'), ['..', 'shared'].join('/'), ['/work', 'shared'].join('/')];

/** Where the outside-pointer check looks: every text file below these. */
const SCANNED = ['README.md', 'docs', 'src', 'test', 'machines', 'proto', 'docker', '.ci'];

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const docs = readdirSync(path.join(ROOT, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`);
const markdownFiles = ['README.md', ...docs];

/** Targets (relative to ROOT) that git ignores: on disk here, but not in the repository. */
function ignoredByGit(targets: string[]): Set<string> {
  if (targets.length === 0) return new Set();
  const result = spawnSync('git', ['check-ignore', '--stdin'], { cwd: ROOT, input: targets.join('\n'), encoding: 'utf8' });
  if (result.error || (result.status !== 0 && result.status !== 1)) {
    throw new Error(`git check-ignore failed: ${result.error?.message ?? result.stderr}`);
  }
  return new Set(result.stdout.split('\n').filter(Boolean));
}

/** What is wrong with the links of `markdown`, read as the repository file `file`. */
function linkProblems(file: string, markdown: string): string[] {
  const problems: string[] = [];
  const local: Array<{ where: string; target: string; anchor: string }> = [];
  for (const { target, line } of linksOf(markdown)) {
    const where = `${file}:${line} -> ${target}`;
    if (/^https?:\/\//i.test(target)) {
      if (!EXTERNAL_LINKS_ALLOWED.has(target)) problems.push(`${where}: external link not in EXTERNAL_LINKS_ALLOWED`);
      continue;
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      problems.push(`${where}: only relative links and listed http(s) references are allowed`);
      continue;
    }
    const [pathPart, anchor = ''] = target.split('#');
    if (pathPart === '') {
      if (!anchorsOf(markdown).has(decodeURIComponent(anchor))) problems.push(`${where}: no heading with anchor #${anchor}`);
      continue;
    }
    const resolved = path.normalize(path.join(path.dirname(file), decodeURIComponent(pathPart)));
    if (resolved.startsWith('..') || path.isAbsolute(resolved)) {
      problems.push(`${where}: points outside the repository`);
      continue;
    }
    if (!existsSync(path.join(ROOT, resolved))) {
      problems.push(`${where}: no such file`);
      continue;
    }
    local.push({ where, target: resolved, anchor });
  }
  const ignored = ignoredByGit(local.map((l) => l.target));
  for (const { where, target, anchor } of local) {
    if (ignored.has(target)) {
      problems.push(`${where}: ignored by git, so not in the repository`);
    } else if (anchor !== '') {
      const isMarkdown = target.endsWith('.md') && statSync(path.join(ROOT, target)).isFile();
      if (!isMarkdown || !anchorsOf(read(target)).has(decodeURIComponent(anchor))) problems.push(`${where}: no heading with anchor #${anchor}`);
    }
  }
  return problems;
}

/** Lines of `text` that name project material outside the repository. */
function outsidePointers(file: string, text: string): string[] {
  return text
    .split('\n')
    .flatMap((line, index) => (OUTSIDE_POINTERS.some((needle) => line.includes(needle)) ? [`${file}:${index + 1}: ${line.trim()}`] : []));
}

function filesBelow(entry: string): string[] {
  const full = path.join(ROOT, entry);
  if (!existsSync(full)) return [];
  if (statSync(full).isFile()) return [entry];
  return readdirSync(full, { withFileTypes: true }).flatMap((child) => filesBelow(path.join(entry, child.name)));
}

/** A doc opens with its title and a paragraph that says what it covers. */
function opensWithSummary(markdown: string): boolean {
  const [title, blank, first] = markdown.split('\n');
  return /^# \S/.test(title) && blank === '' && first !== undefined && /^[A-Za-z`*]/.test(first);
}

describe('docs: README.md is the front door', () => {
  it(`README.md is under ${README_MAX_BYTES} bytes`, () => {
    expect(Buffer.byteLength(read('README.md'))).toBeLessThan(README_MAX_BYTES);
  });

  it('README.md links to every document in docs/', () => {
    const linked = new Set(linksOf(read('README.md')).map(({ target }) => target.split('#')[0]));
    expect(docs.length).toBeGreaterThanOrEqual(9);
    expect(docs.filter((doc) => !linked.has(doc))).toEqual([]);
  });

  it('every document in docs/ opens with a title and a summary paragraph', () => {
    expect(docs.filter((doc) => !opensWithSummary(read(doc)))).toEqual([]);
  });
});

describe('docs: links resolve inside the repository', () => {
  it('finds the links it checks', () => {
    const all = markdownFiles.flatMap((file) => linksOf(read(file)));
    expect(all.length).toBeGreaterThan(30);
    expect(all.filter(({ target }) => target.includes('#')).length).toBeGreaterThan(10);
  });

  it.each(markdownFiles)('%s: every link resolves, external links are listed', (file) => {
    expect(linkProblems(file, read(file))).toEqual([]);
  });

  it('names no project material outside the repository (src/, test/, docs/, README.md, docker/, ...)', () => {
    const files = SCANNED.flatMap(filesBelow).filter((file) => !/\.(png|jpg|ico)$/.test(file));
    expect(files.length).toBeGreaterThan(150);
    expect(files.flatMap((file) => outsidePointers(file, read(file)))).toEqual([]);
  });
});

describe('docs: the checks themselves can fail', () => {
  const example = [
    '# Example',
    '',
    'Fine: [architecture](architecture.md#import-rules), [same file](#example), [proto](../proto/storage.proto),',
    '[inspector](https://stately.ai/inspect).',
    'Broken: [a](missing.md), [b](architecture.md#no-such-heading), [c](../../elsewhere.md),',
    '[d](https://example.com/page), [e](../node_modules/xstate/package.json), [f](#nowhere),',
    'and a bare http://example.org/x in prose.',
    '',
    '```sh',
    'curl http://127.0.0.1:8080/files   # code is not a link',
    '```',
  ].join('\n');

  it('reports each broken link, and none of the good ones', () => {
    const problems = linkProblems('docs/example.md', example);
    const broken = ['missing.md', 'architecture.md#no-such-heading', '../../elsewhere.md', 'https://example.com/page',
      '../node_modules/xstate/package.json', '#nowhere', 'http://example.org/x'];
    expect(problems).toHaveLength(broken.length);
    for (const target of broken) expect(problems.filter((p) => p.includes(`-> ${target}:`))).toHaveLength(1);
  });

  it('finds a pointer to outside material in any line', () => {
    for (const needle of OUTSIDE_POINTERS) {
      expect(outsidePointers('src/x.ts', `ok\n// see ${needle} for why\nok`)).toEqual([`src/x.ts:2: // see ${needle} for why`]);
    }
  });

  it('names anchors as GitHub does', () => {
    expect(githubSlug('Design decisions')).toBe('design-decisions');
    expect(githubSlug('`ringstore up`')).toBe('ringstore-up');
    expect(githubSlug('Errors: domain errors, and where they become status codes')).toBe('errors-domain-errors-and-where-they-become-status-codes');
    expect(githubSlug('`POST /files`: upload')).toBe('post-files-upload');
    expect(githubSlug('GRPC_TLS_* and [TLS](x.md)')).toBe('grpc_tls_-and-tls');
    expect([...anchorsOf('# A\n## Notes\n## Notes\n```\n# not a heading\n```\n')]).toEqual(['a', 'notes', 'notes-1']);
  });

  it('leaves code out of the prose and rejects a doc without a summary', () => {
    expect(proseOf('a `http://x` b')).not.toContain('http');
    expect(opensWithSummary('# Title\n\n| a table | first |\n')).toBe(false);
    expect(opensWithSummary('# Title\n\nWhat this covers.\n')).toBe(true);
  });
});
