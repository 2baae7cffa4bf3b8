import { deriveElectionTimings, ElectionConfigError } from '@lib/election';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';

/** LogFormat: `json` (one object per line) or `pretty` (for a person at a terminal). */
export type LogFormat = 'json' | 'pretty';

/**
 * BatonConfig is one node's configuration, read only from the environment
 * (see the README's configuration table). Durations are in ms.
 */
export interface BatonConfig {
  redisUrl: string;
  port: number;
  host: string;
  nodeId: string;
  prefix: string;
  leaseMs: number;
  /** renewDeadlineMs / retryPeriodMs: undefined means "derive from leaseMs". */
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  apiToken?: string;
  workerConcurrency: number;
  /** leaderYieldLagMs: the leader's own worker takes fewer jobs while its ticks reach the queue later than this; 0 never. */
  leaderYieldLagMs: number;
  catchUpWindowMs: number;
  jobLockMs: number;
  shutdownGraceMs: number;
  heartbeatMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  logFormat: LogFormat;
  version: string;
}

/** CONFIG_DEFAULTS: the documented defaults of every optional variable. */
export const CONFIG_DEFAULTS = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  PORT: 3000,
  HOST: '0.0.0.0',
  BATON_PREFIX: 'baton',
  BATON_LEASE_MS: 5000,
  BATON_WORKER_CONCURRENCY: 10,
  BATON_LEADER_YIELD_LAG_MS: 0,
  BATON_CATCHUP_WINDOW_MS: 600_000,
  BATON_JOB_LOCK_MS: 10_000,
  BATON_SHUTDOWN_GRACE_MS: 10_000,
  BATON_HEARTBEAT_MS: 5000,
  LOG_LEVEL: 'info',
} as const;

/** ConfigError: a bad environment variable; the message names it and what is allowed. */
export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`${variable}: ${detail}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function readInt(env: Env, name: string, fallback: number | undefined, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `must be from ${min} to ${max}, got ${value}`);
  return value;
}

function readEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function readRedisUrl(env: Env): string {
  const raw = env.REDIS_URL?.trim() || CONFIG_DEFAULTS.REDIS_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL', `must be a URL like redis://host:6379 or rediss://host:6380, got "${raw}"`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL', `must use redis:// or rediss://, got "${url.protocol}//"`);
  }
  return raw;
}

function readPattern(env: Env, name: string, pattern: RegExp, allowed: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!pattern.test(raw)) throw new ConfigError(name, `must be ${allowed}, got "${raw}"`);
  return raw;
}

/**
 * loadConfig reads and validates the environment. It throws ConfigError on
 * the first bad variable; main() prints it and exits with code 2, before
 * touching Redis.
 */
export function loadConfig(env: Env = process.env, isTty = Boolean(process.stdout.isTTY)): BatonConfig {
  const leaseMs = readInt(env, 'BATON_LEASE_MS', CONFIG_DEFAULTS.BATON_LEASE_MS, 300, 600_000)!;
  const renewDeadlineMs = readInt(env, 'BATON_RENEW_DEADLINE_MS', undefined, 100, 600_000);
  const retryPeriodMs = readInt(env, 'BATON_RETRY_PERIOD_MS', undefined, 50, 600_000);
  checkElectionTimings(leaseMs, renewDeadlineMs, retryPeriodMs);
  const apiToken = env.BATON_API_TOKEN;
  if (apiToken !== undefined && apiToken !== '' && !/^[\x21-\x7e]{8,256}$/.test(apiToken)) {
    throw new ConfigError('BATON_API_TOKEN', 'must be 8 to 256 printable ASCII characters without spaces');
  }
  return {
    redisUrl: readRedisUrl(env),
    port: readInt(env, 'PORT', CONFIG_DEFAULTS.PORT, 0, 65535)!,
    host: readPattern(env, 'HOST', /^[A-Za-z0-9.:\-[\]]{1,255}$/, 'a host name or IP address', CONFIG_DEFAULTS.HOST),
    nodeId: readPattern(env, 'BATON_NODE_ID', /^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$/,
      '1-128 of A-Z a-z 0-9 . _ - starting with a letter or digit', `${hostname()}-${process.pid}`),
    prefix: readPattern(env, 'BATON_PREFIX', /^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$/,
      '1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit', CONFIG_DEFAULTS.BATON_PREFIX),
    leaseMs,
    renewDeadlineMs,
    retryPeriodMs,
    apiToken: apiToken ? apiToken : undefined,
    workerConcurrency: readInt(env, 'BATON_WORKER_CONCURRENCY', CONFIG_DEFAULTS.BATON_WORKER_CONCURRENCY, 1, 1000)!,
    leaderYieldLagMs: readInt(env, 'BATON_LEADER_YIELD_LAG_MS', CONFIG_DEFAULTS.BATON_LEADER_YIELD_LAG_MS, 0, 600_000)!,
    catchUpWindowMs: readInt(env, 'BATON_CATCHUP_WINDOW_MS', CONFIG_DEFAULTS.BATON_CATCHUP_WINDOW_MS, 0, 7 * 86_400_000)!,
    jobLockMs: readInt(env, 'BATON_JOB_LOCK_MS', CONFIG_DEFAULTS.BATON_JOB_LOCK_MS, 1000, 3_600_000)!,
    shutdownGraceMs: readInt(env, 'BATON_SHUTDOWN_GRACE_MS', CONFIG_DEFAULTS.BATON_SHUTDOWN_GRACE_MS, 0, 3_600_000)!,
    heartbeatMs: readInt(env, 'BATON_HEARTBEAT_MS', CONFIG_DEFAULTS.BATON_HEARTBEAT_MS, 200, 600_000)!,
    logLevel: readEnum(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, CONFIG_DEFAULTS.LOG_LEVEL),
    logFormat: readEnum(env, 'LOG_FORMAT', ['json', 'pretty'] as const, isTty ? 'pretty' : 'json'),
    version: readVersion(),
  };
}

const TIMING_VARIABLES: Record<string, string> = {
  leaseMs: 'BATON_LEASE_MS', renewDeadlineMs: 'BATON_RENEW_DEADLINE_MS', retryPeriodMs: 'BATON_RETRY_PERIOD_MS',
};

/**
 * checkElectionTimings: lease > renew deadline > renew period, checked here
 * so that contradicting variables stop the node with exit 2 and a message
 * naming the variable, not with a stack trace from inside the election.
 */
function checkElectionTimings(leaseMs: number, renewDeadlineMs?: number, retryPeriodMs?: number): void {
  try {
    deriveElectionTimings({ leaseMs, renewDeadlineMs, retryPeriodMs });
  } catch (err) {
    if (!(err instanceof ElectionConfigError)) throw err;
    // A retry period at or above a derived deadline is the deadline variable's fault only if the period was derived.
    const variable = err.field === 'retryPeriodMs' && retryPeriodMs === undefined ? 'BATON_RENEW_DEADLINE_MS' : TIMING_VARIABLES[err.field] ?? 'BATON_LEASE_MS';
    const detail = err.message.replace(/\b(leaseMs|renewDeadlineMs|retryPeriodMs|leaseDurationMs)\b/g, (f) => TIMING_VARIABLES[f] ?? 'BATON_LEASE_MS');
    throw new ConfigError(variable, `${detail} (lease ${leaseMs}, renew deadline ${renewDeadlineMs ?? 'derived'}, renew period ${retryPeriodMs ?? 'derived'})`);
  }
}

function readVersion(): string {
  // The package.json sits a different number of levels up in src and in dist.
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'baton' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}
