import winston from 'winston';

/** LOG_FORMAT=json for machines, anything else (default) pretty for people. */
function buildFormat(): winston.Logform.Format {
  if (process.env.LOG_FORMAT === 'json') {
    return winston.format.combine(winston.format.timestamp(), winston.format.json());
  }
  return winston.format.combine(
    winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
    winston.format.printf(({ timestamp, level, message, component, ...meta }) => {
      // Fields the sentence already says are noise to a person (JSON logs keep them all).
      const text = String(message);
      const extra = Object.fromEntries(Object.entries(meta).filter(([, value]) => !text.includes(String(value))));
      const rest = Object.keys(extra).length ? ' ' + JSON.stringify(extra) : '';
      const where = component ? ` [${component}]` : '';
      return `${timestamp} ${level.toUpperCase().padEnd(5)}${where} ${message}${rest}`;
    }),
  );
}

export const rootLogger = winston.createLogger({
  level: process.env.LOG_LEVEL ?? 'info',
  format: buildFormat(),
  transports: [new winston.transports.Console()],
});

// winston formats every line (timestamp, printf, JSON) and passes it through two streams before
// the transport drops it by level: at LOG_LEVEL=warn each request's access-log line still cost
// that much. Lines of a disabled level are dropped here, before anything is built. (Child
// loggers write through this instance's write.)
const writeLine = rootLogger.write.bind(rootLogger);
rootLogger.write = ((info: winston.LogEntry) => {
  const dropped = info.level in rootLogger.levels && !rootLogger.isLevelEnabled(info.level); // unknown levels go on, for winston to report
  return dropped || writeLine(info);
}) as typeof rootLogger.write;

export type Logger = winston.Logger;

/** A logger whose lines name the part of the system they come from. */
export function createLogger(component: string): Logger {
  return rootLogger.child({ component });
}
