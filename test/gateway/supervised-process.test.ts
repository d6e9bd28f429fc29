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
    // A restart is scheduled in the exit handler that called onFatal, or never.
    expect([fatal, child.restartPending, child.restarts, child.pid]).toEqual([[98], false, 0, undefined]);
  });

  test('any other exit is restarted', async () => {
    const child = new SupervisedProcess('flaky', process.execPath, ['-e', 'process.exit(1)'], process.env, createLogger('test'), {
      exitCodes: [98],
      onFatal: () => undefined,
    });
    child.start();
    await waitFor(() => child.restartPending || child.restarts >= 1, { what: 'a restart scheduled' });
    await waitFor(() => child.restarts >= 1, { what: 'a restart' });
    await child.stop();
  });
});
