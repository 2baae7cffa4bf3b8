/** LogLevel: severities, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * EventLogger is the only logging the core sees. `event` is one of the
 * contract's names (`leader.elected`, `schedule.fired`, ...); `facts` are
 * its fields, merged into the JSON line. The app backs it with pino.
 */
export interface EventLogger {
  log(level: LogLevel, event: string, msg: string, facts?: Record<string, unknown>): void;
  /**
   * enabled (optional): false when `level` would be dropped, so a hot path
   * (one line per job or per tick) can skip building the line. Absent means
   * every level may be written.
   */
  enabled?(level: LogLevel): boolean;
}

/** logs: whether `logger` would write `level` (true unless it says otherwise). */
export function logs(logger: EventLogger, level: LogLevel): boolean {
  return logger.enabled?.(level) ?? true;
}

/** silentLogger drops everything (unit tests). */
export const silentLogger: EventLogger = { log: () => undefined, enabled: () => false };
