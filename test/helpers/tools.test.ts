/**
 * The gate every tool-dependent test goes through: a missing tool skips loudly (naming the tool,
 * its Debian package and the install command), and fails under REQUIRE_ALL_TOOLS=1.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './process';
import { findTool, toolOrSkip, TOOLS } from './tools';

const MISSING = '/nonexistent/ringstore-test/chromium';

describe('tool gate', () => {
  test('finds a tool by absolute path, on PATH, or through TOOL_PATH_<NAME>', () => {
    expect(findTool(TOOLS.chromium, { TOOL_PATH_CHROMIUM: process.execPath })).toEqual({ found: true, path: process.execPath });
    const onPath = findTool({ name: 'node', command: 'node', debianPackage: 'nodejs', envName: 'NODE' }, { PATH: path.dirname(process.execPath) });
    expect(onPath).toEqual({ found: true, path: process.execPath });
    expect(findTool(TOOLS.dockerCompose, { PATH: '/nonexistent' }).found).toBe(false);
  });

  test('a missing tool is skipped with a message naming it, its Debian package and the install command', () => {
    const warn = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(toolOrSkip(TOOLS.chromium, 'the suite', { TOOL_PATH_CHROMIUM: MISSING })).toBeUndefined();
      const message = warn.mock.calls.map((call) => String(call[0])).join('\n');
      expect(message).toContain('SKIPPED the suite: Chromium is missing');
      expect(message).toContain(MISSING);
      expect(message).toContain('"apt-get install -y chromium"');
    } finally {
      warn.mockRestore();
    }
  });

  test('under REQUIRE_ALL_TOOLS=1 a missing tool fails instead', () => {
    expect(() => toolOrSkip(TOOLS.dockerCompose, 'the suite', { PATH: '/nonexistent', REQUIRE_ALL_TOOLS: '1' }))
      .toThrow(/REQUIRE_ALL_TOOLS=1 and docker-compose is missing .*apt-get install -y docker-compose.*needed by the suite/);
  });

  /** A jest run of the gated fixture suite, as `npm test` would run a browser test. */
  function runFixture(env: Record<string, string>): { status: number | null; output: string } {
    const result = spawnSync(
      process.execPath,
      [require.resolve('jest/bin/jest'), '--ci', '--rootDir', REPO_ROOT, '--roots', '<rootDir>/test/helpers/fixtures', '--testMatch', '**/tool-gated.fixture.ts'],
      { cwd: REPO_ROOT, env: { ...process.env, REQUIRE_ALL_TOOLS: '', ...env }, encoding: 'utf8', timeout: 90_000 },
    );
    return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
  }

  test('in a real jest run: skipped and green without the tool, failed under REQUIRE_ALL_TOOLS=1, run with it', () => {
    const skipped = runFixture({ TOOL_PATH_CHROMIUM: MISSING });
    expect(skipped.output).toMatch(/SKIPPED tool-gated fixture: Chromium is missing/);
    expect(skipped.output).toMatch(/Tests:\s+1 skipped, 1 total/);
    expect(skipped.status).toBe(0);

    const required = runFixture({ TOOL_PATH_CHROMIUM: MISSING, REQUIRE_ALL_TOOLS: '1' });
    expect(required.output).toMatch(/REQUIRE_ALL_TOOLS=1 and Chromium is missing/);
    expect(required.status).toBe(1);

    const present = runFixture({ TOOL_PATH_CHROMIUM: process.execPath });
    expect(present.output).toMatch(/Tests:\s+1 passed, 1 total/);
    expect(present.status).toBe(0);
  }, 120_000);
});
