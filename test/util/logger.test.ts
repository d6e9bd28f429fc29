import { createLogger, logSettings } from '../../src/util/logger';

describe('logger', () => {
  const saved = { ...logSettings };
  let lines: string[];
  beforeEach(() => {
    lines = [];
    logSettings.write = (line) => void lines.push(line);
  });
  afterEach(() => Object.assign(logSettings, saved));

  it('drops lines of a disabled level before building them, and writes the enabled ones', () => {
    logSettings.level = 'warn';
    const log = createLogger('test');
    const fields = { get event(): string { throw new Error('a dropped line must not be built'); } };

    log.info('an access line nobody asked for', fields);
    log.debug('a debug line', fields);
    expect(log.isLevelEnabled('info')).toBe(false);
    expect(lines).toEqual([]);

    log.warn('a warning', { event: 'disk' });
    log.error('an error');
    expect(lines).toHaveLength(2);
    expect(log.isLevelEnabled('error')).toBe(true);
  });

  it('writes JSON lines with every field, the component, level, message and an ISO timestamp', () => {
    logSettings.json = true;
    createLogger('storage').log('warn', 'disk low on 127.0.0.1:50051', { event: 'disk', address: '127.0.0.1:50051', free: 0 });
    expect(lines).toHaveLength(1);
    expect(lines[0].endsWith('\n')).toBe(true);
    const line = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(line).toEqual({
      component: 'storage',
      event: 'disk',
      address: '127.0.0.1:50051',
      free: 0,
      level: 'warn',
      message: 'disk low on 127.0.0.1:50051',
      timestamp: expect.any(String),
    });
    expect(new Date(line.timestamp as string).toISOString()).toBe(line.timestamp);
  });

  it('writes pretty lines for people: time, level, component, message, and only the fields the message lacks', () => {
    logSettings.json = false;
    createLogger('registry').info('Storage server s-1 joined at 127.0.0.1:50051', { server: 's-1', address: '127.0.0.1:50051', ring: 6 });
    createLogger('up').warn('degraded');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[registry\] Storage server s-1 joined at 127\.0\.0\.1:50051 \{"ring":6\}\n$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}\[up\] degraded\n$/);
  });
});
