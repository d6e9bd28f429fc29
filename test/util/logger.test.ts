import { createLogger, rootLogger } from '../../src/util/logger';

describe('logger', () => {
  const level = rootLogger.level;
  afterEach(() => {
    rootLogger.level = level;
    jest.restoreAllMocks();
  });

  it('drops lines of a disabled level before formatting them, and formats the enabled ones', () => {
    rootLogger.level = 'warn';
    const format = jest.spyOn(rootLogger.format, 'transform');
    const written = jest.spyOn(rootLogger.transports[0], 'log').mockImplementation((_info, next) => next?.());
    const log = createLogger('test');

    log.info('an access line nobody asked for', { event: 'http_request' });
    log.debug('a debug line');
    expect(format).not.toHaveBeenCalled();
    expect(written).not.toHaveBeenCalled();

    log.warn('a warning', { event: 'disk' });
    expect(format).toHaveBeenCalledTimes(1);
    expect(written).toHaveBeenCalledTimes(1);
    expect(written.mock.calls[0][0]).toMatchObject({ level: 'warn', message: 'a warning', component: 'test', event: 'disk' });
  });
});
