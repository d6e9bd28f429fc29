/**
 * Typed readers for environment variables. Every reader throws a ConfigError whose message is
 * one line naming the variable, so a bad setting fails at start with a clear reason.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function envString(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function envOptionalString(env: Env, name: string): string | undefined {
  return raw(env, name);
}

export function envInt(
  env: Env,
  name: string,
  fallback: number,
  bounds: { min?: number; max?: number } = {},
): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) {
    throw new ConfigError(`${name} must be a whole number, got "${value}"`);
  }
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new ConfigError(`${name} is too large: "${value}"`);
  if (bounds.min !== undefined && parsed < bounds.min) {
    throw new ConfigError(`${name} must be at least ${bounds.min}, got ${parsed}`);
  }
  if (bounds.max !== undefined && parsed > bounds.max) {
    throw new ConfigError(`${name} must be at most ${bounds.max}, got ${parsed}`);
  }
  return parsed;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
};

/** A byte size: a plain number of bytes or a number with a unit (10GiB, 512M). */
export function envBytes(env: Env, name: string, fallback: number, bounds: { min?: number } = {}): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(value);
  const unit = match ? SIZE_UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new ConfigError(`${name} must be a size such as 1048576, 512MiB or 10GiB, got "${value}"`);
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bounds.min !== undefined && bytes < bounds.min) {
    throw new ConfigError(`${name} must be at least ${bounds.min} bytes, got ${bytes}`);
  }
  return bytes;
}

export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(`${name} must be true or false, got "${value}"`);
}

export function envOneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

/** A comma-separated list, empty entries dropped. */
export function envList(env: Env, name: string): string[] {
  const value = raw(env, name);
  return value === undefined ? [] : value.split(',').map((s) => s.trim()).filter(Boolean);
}
