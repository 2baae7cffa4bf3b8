/** LogLevel: severities, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * EventLogger is the only logging the core sees. `event` is one of the
 * contract's names (`leader.elected`, `schedule.fired`, ...); `facts` are
 * its fields, merged into the JSON line. The app backs it with pino.
 */
export interface EventLogger {
  log(level: LogLevel, event: string, msg: string, facts?: Record<string, unknown>): void;
}

/** silentLogger drops everything (unit tests). */
export const silentLogger: EventLogger = { log: () => undefined };
