import { createTask } from 'node-cron';

/** The internal of node-cron 4 we lean on: `timeMatcher.getNextMatch(date)`. */
interface TimeMatcherLike {
  getNextMatch(date: Date): Date;
}

/** How far the second-by-second fallback searches before giving up (one year). */
const FALLBACK_HORIZON_MS = 366 * 24 * 3600 * 1000;

/**
 * CronSchedule is the calendar of one (cron, timezone): the instants (epoch
 * ms, whole seconds) at which it fires. It is node-cron 4's own matcher, so
 * it fires exactly when node-cron's tasks do, DST rules included. The task it
 * builds is destroyed at once (never started, out of node-cron's registry).
 * node-cron's `timeMatcher.getNextMatch` is internal: it is checked at run
 * time, and without it the next instant is found by stepping second by
 * second with the public `match` (correct, but slow for sparse crons).
 */
export class CronSchedule {
  private readonly matcher: TimeMatcherLike | null;
  private readonly matchFn: (date: Date) => boolean;

  /** Throws (node-cron's message) when the expression is invalid. */
  constructor(readonly cron: string, readonly timezone: string) {
    const task = createTask(cron, () => undefined, { timezone });
    const candidate = (task as unknown as { timeMatcher?: unknown }).timeMatcher;
    this.matcher = isTimeMatcher(candidate) ? candidate : null;
    this.matchFn = (date) => task.match(date);
    void task.destroy();
  }

  /** usesInternalMatcher: false when node-cron changed and the slow fallback is in use. */
  get usesInternalMatcher(): boolean {
    return this.matcher !== null;
  }

  /** matches: whether `ms` (rounded down to the second) is an instant of this schedule. */
  matches(ms: number): boolean {
    return this.matchFn(new Date(Math.floor(ms / 1000) * 1000));
  }

  /** nextAfter: the first instant strictly after `ms`, or null if none within node-cron's horizon. */
  nextAfter(ms: number): number | null {
    if (this.matcher) {
      try {
        return this.matcher.getNextMatch(new Date(ms)).getTime();
      } catch {
        return null; // node-cron found no match within its search range
      }
    }
    return this.stepNextAfter(ms);
  }

  /**
   * instantsBetween: the instants in (fromExclusiveMs, toInclusiveMs],
   * oldest first, at most `limit` of them (the oldest ones).
   */
  instantsBetween(fromExclusiveMs: number, toInclusiveMs: number, limit = Number.MAX_SAFE_INTEGER): number[] {
    const out: number[] = [];
    let at = fromExclusiveMs;
    while (out.length < limit) {
      const next = this.nextAfter(at);
      if (next === null || next > toInclusiveMs) break;
      out.push(next);
      at = next;
    }
    return out;
  }

  private stepNextAfter(ms: number): number | null {
    let at = Math.floor(ms / 1000) * 1000 + 1000;
    for (const end = ms + FALLBACK_HORIZON_MS; at <= end; at += 1000) {
      if (this.matchFn(new Date(at))) return at;
    }
    return null;
  }
}

function isTimeMatcher(v: unknown): v is TimeMatcherLike {
  return typeof v === 'object' && v !== null && typeof (v as TimeMatcherLike).getNextMatch === 'function';
}
