/** The CLI's answers to a person who calls it wrongly or asks for help: usage, never a stack trace. */
import { RingstoreProcess } from '../helpers/process';

async function run(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = new RingstoreProcess(args);
  const { code } = await child.exited();
  return { code, output: child.lines.map((line) => line.message).join('\n') };
}

afterAll(() => RingstoreProcess.killAll());

describe('ringstore usage', () => {
  test('an unknown option of a command names it, prints the usage and exits 2', async () => {
    const { code, output } = await run(['up', '--bogus']);
    expect(code).toBe(2);
    expect(output).toContain("ringstore: Unknown option '--bogus'");
    expect(output).toContain('Usage: ringstore up ');
    expect(output).not.toMatch(/^\s+at /m);
  });

  test('an unknown command prints the usage and exits 2', async () => {
    const { code, output } = await run(['serve']);
    expect(code).toBe(2);
    expect(output).toContain('ringstore: unknown command "serve"');
    expect(output).toContain('Usage: ringstore <command>');
  });

  test('`ringstore --help` lists every command and exits 0', async () => {
    const { code, output } = await run(['--help']);
    expect(code).toBe(0);
    expect(output).toContain('Usage: ringstore <command>');
    for (const command of ['up', 'gateway', 'storage', 'put', 'get', 'cat', 'ls', 'stat', 'rm']) expect(output).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  test.each([
    ['up --help', /^Usage: ringstore up \[--data DIR\] \[--port N\]/, /STORAGE_BASE_PORT/],
    ['gateway --help', /^Usage: ringstore gateway /, /DATABASE_URL/],
    ['storage -h', /^Usage: ringstore storage /, /--join URL/],
    ['help storage', /^Usage: ringstore storage /, /--advertise/],
    ['put --help', /^Usage: ringstore put /, /--parallel/],
    ['get --help', /^Usage: ringstore get /, /resumes/],
    ['cat --help', /^Usage: ringstore cat /, /SHA-256/],
    ['ls --help', /^Usage: ringstore ls /, /--name TEXT/],
    ['stat --help', /^Usage: ringstore stat /, /--json/],
    ['rm --help', /^Usage: ringstore rm /, /ID\.\.\./],
  ])('`ringstore %s` prints that command\'s own usage and exits 0', async (line, usage, detail) => {
    const { code, output } = await run(line.split(' '));
    expect(code).toBe(0);
    expect(output).toMatch(usage);
    expect(output).toMatch(detail);
    expect(output).not.toContain('Usage: ringstore <command>');
  });

  test('`ringstore --version` (and `version`, which npx passes on) prints the package version', async () => {
    const { version } = require('../../package.json') as { version: string };
    for (const flag of ['--version', '-V', 'version']) {
      const { code, output } = await run([flag]);
      expect([code, output]).toEqual([0, `ringstore ${version}`]);
    }
  });
});
