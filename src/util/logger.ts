/**
 * The log: one line per event on standard output, JSON with LOG_FORMAT=json (for machines), else
 * pretty (for people), at LOG_LEVEL (`error`, `warn`, `info` by default, `debug`). Written here
 * rather than with a logging library: every process (the gateway, each storage server) loads it
 * at start, and winston with its formats was ~60 modules, ~30 ms of CPU and ~2 MB of heap in each.
 */

const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 } as const;
export type LogLevel = keyof typeof LEVELS;
/** Structured fields of a line: kept whole in JSON; in pretty lines, those the sentence lacks. */
export type LogFields = Record<string, unknown>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** Whether a line at this level would be written: to skip building one that would not. */
  isLevelEnabled(level: LogLevel): boolean;
}

/** The settings every logger of the process follows (changed in place by tests). */
export const logSettings = {
  level: parseLevel(process.env.LOG_LEVEL),
  json: process.env.LOG_FORMAT === 'json',
  write: (line: string): void => void process.stdout.write(line),
};

function parseLevel(name: string | undefined): LogLevel {
  return name !== undefined && name in LEVELS ? (name as LogLevel) : 'info';
}

const twoDigits = (n: number) => String(n).padStart(2, '0');

/** HH:mm:ss.SSS in local time. */
function clockTime(date: Date): string {
  return `${twoDigits(date.getHours())}:${twoDigits(date.getMinutes())}:${twoDigits(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

function formatLine(component: string, level: LogLevel, message: string, fields: LogFields | undefined): string {
  const now = new Date();
  if (logSettings.json) return `${JSON.stringify({ component, ...fields, level, message, timestamp: now.toISOString() })}\n`;
  // Fields the sentence already says are noise to a person (JSON logs keep them all).
  const extra = Object.fromEntries(Object.entries(fields ?? {}).filter(([, value]) => !message.includes(String(value))));
  const rest = Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : '';
  return `${clockTime(now)} ${level.toUpperCase().padEnd(5)} [${component}] ${message}${rest}\n`;
}

/** A logger whose lines name the part of the system they come from. */
export function createLogger(component: string): Logger {
  const isLevelEnabled = (level: LogLevel) => LEVELS[level] <= LEVELS[logSettings.level];
  // A line of a disabled level is dropped before anything is built (at LOG_LEVEL=warn, every
  // request's access-log line).
  const log = (level: LogLevel, message: string, fields?: LogFields) => {
    if (isLevelEnabled(level)) logSettings.write(formatLine(component, level, message, fields));
  };
  return {
    log,
    isLevelEnabled,
    error: (message, fields) => log('error', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    info: (message, fields) => log('info', message, fields),
    debug: (message, fields) => log('debug', message, fields),
  };
}
