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
    expect(output).toContain('Usage: ringstore <command>');
    expect(output).not.toMatch(/^\s+at /m);
  });

  test('an unknown command prints the usage and exits 2', async () => {
    const { code, output } = await run(['serve']);
    expect(code).toBe(2);
    expect(output).toContain('ringstore: unknown command "serve"');
    expect(output).toContain('Usage: ringstore <command>');
  });

  test.each(['--help', 'up --help', 'storage -h'])('`ringstore %s` prints the usage and exits 0', async (line) => {
    const { code, output } = await run(line.split(' '));
    expect(code).toBe(0);
    expect(output).toContain('Usage: ringstore <command>');
  });
});
