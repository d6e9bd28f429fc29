import { SupervisedProcess } from '../../src/gateway/supervised-process';
import { createLogger } from '../../src/util/logger';
import { waitFor } from '../helpers/wait';

describe('SupervisedProcess', () => {
  test('a child exiting with a fatal code (a taken port) is not restarted: onFatal is called once', async () => {
    const fatal: number[] = [];
    const child = new SupervisedProcess('doomed', process.execPath, ['-e', 'process.exit(98)'], process.env, createLogger('test'), {
      exitCodes: [98],
      onFatal: (code) => fatal.push(code),
    });
    child.start();
    await waitFor(() => fatal.length > 0, { what: 'onFatal' });
    // Longer than the first restart delay (500 ms): a restart would have happened by now.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect([fatal, child.restarts, child.pid]).toEqual([[98], 0, undefined]);
  });

  test('any other exit is restarted', async () => {
    const child = new SupervisedProcess('flaky', process.execPath, ['-e', 'process.exit(1)'], process.env, createLogger('test'), {
      exitCodes: [98],
      onFatal: () => undefined,
    });
    child.start();
    await waitFor(() => child.restarts >= 1, { what: 'a restart' });
    await child.stop();
  });
});
