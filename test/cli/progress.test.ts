import { Writable } from 'node:stream';
import { createProgress, progressMode } from '../../src/cli/client/progress';

/** A stream that says it is a terminal, keeping what is drawn on it. */
function fakeTerminal(): NodeJS.WriteStream & { text(): string } {
  let written = '';
  const stream = new Writable({
    write(piece, _encoding, done) {
      written += piece.toString();
      done();
    },
  }) as unknown as NodeJS.WriteStream & { text(): string };
  Object.assign(stream, { isTTY: true, columns: 160, rows: 40, text: () => written });
  return stream;
}

describe('client progress', () => {
  test('bars on a terminal, plain lines otherwise, nothing with --json', () => {
    expect(progressMode(false, { isTTY: true } as NodeJS.WriteStream)).toBe('bars');
    expect(progressMode(false, { isTTY: false } as NodeJS.WriteStream)).toBe('lines');
    expect(progressMode(true, { isTTY: true } as NodeJS.WriteStream)).toBe('silent');
  });

  test('a bar shows the name, bytes done of the size, the rate and the ETA', async () => {
    const terminal = fakeTerminal();
    const view = createProgress('bars', terminal);
    const transfer = view.start('photos.tar', 10 * 1024 * 1024);
    transfer.update(4 * 1024 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 250)); // the bars redraw at 10 fps
    transfer.done('');
    view.stop();
    const screen = terminal.text();
    expect(screen).toMatch(/ 40% \| photos\.tar \| 4\.00 MiB\/10\.0 MiB \| [\d.]+ \w+\/s \| ETA +\d+s/);
    expect(screen).toMatch(/100% \| photos\.tar \| 10\.0 MiB\/10\.0 MiB/);
  });

  test('plain lines say what was done, one line a transfer', () => {
    let written = '';
    const stream = new Writable({ write: (piece, _e, done) => ((written += piece.toString()), done()) });
    const transfer = createProgress('lines', stream).start('a.bin', 10);
    transfer.update(5);
    transfer.done('stored a.bin as 123');
    expect(written).toBe('stored a.bin as 123\n');
  });
});
