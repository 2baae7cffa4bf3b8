import { CronSchedule } from './cron-schedule';
import type { MisfirePolicy, ScheduleSpec } from './schedule-spec';

/** CATCH_UP_WINDOW_MS: how far back (10 minutes) a new leader enqueues ticks missed while nobody led. */
export const CATCH_UP_WINDOW_MS = 600_000;

/** CronCalendar: what dueTicks needs of a CronSchedule. */
export type CronCalendar = Pick<CronSchedule, 'instantsBetween'>;

/** DueTicksInput: one schedule's state at one moment (all times epoch ms). */
export interface DueTicksInput {
  /** cursorMs: the last instant that became a job (nothing at or before it is due again). */
  cursorMs: number;
  /** nowMs: the moment to catch up to, inclusive. */
  nowMs: number;
  /** windowMs: instants older than nowMs - windowMs are dropped. */
  windowMs: number;
  misfire: MisfirePolicy;
  cron: CronCalendar;
  /**
   * liveSinceMs: instants at or after it are live (a leader was alive to fire
   * them), never misfires. Default nowMs: only a tick at nowMs itself is live.
   */
  liveSinceMs?: number;
}

/**
 * dueTicks is the pure catch-up rule: the instants to enqueue now, oldest
 * first. It takes every instant in (max(cursorMs, nowMs - windowMs), nowMs];
 * the live ones (>= liveSinceMs) are always due; the missed ones (before it)
 * follow `misfire`: `all` every one, `latest` only the newest (and none when
 * a live tick follows, which is newer), `none` none. Empty when the cursor is
 * at or ahead of nowMs.
 */
export function dueTicks(input: DueTicksInput): number[] {
  const { cursorMs, nowMs, windowMs, misfire, cron } = input;
  const fromMs = Math.max(cursorMs, nowMs - windowMs);
  if (fromMs >= nowMs) return [];
  const instants = cron.instantsBetween(fromMs, nowMs);
  const liveSinceMs = input.liveSinceMs ?? nowMs;
  const firstLive = instants.findIndex((at) => at >= liveSinceMs);
  const missed = firstLive === -1 ? instants : instants.slice(0, firstLive);
  const live = firstLive === -1 ? [] : instants.slice(firstLive);
  if (misfire === 'all') return instants;
  if (misfire === 'latest' && live.length === 0 && missed.length > 0) return [missed[missed.length - 1]];
  return live;
}

/**
 * suffixCalendar: a CronCalendar for ranges that all end at `endMs`, as the
 * catch-up of one group of schedules (same cron and time zone) asks: each
 * schedule from its own cursor up to the same end. It keeps the instants in
 * (coveredFromMs, endMs] computed so far, extends them back when a cursor
 * lies before, and answers every range by a binary search: the group costs
 * the instants between its oldest cursor and the end once, not once per
 * schedule. (10,000 schedules created a millisecond apart have 10,000
 * distinct cursors: computed one by one, node-cron's matcher held a new
 * leader's event loop for a second, past its lease renewal deadline.)
 */
export function suffixCalendar(calendar: CronCalendar, endMs: number): CronCalendar {
  let coveredFromMs = endMs;
  let covered: number[] = [];
  return {
    instantsBetween(fromExclusiveMs: number, toInclusiveMs: number, limit?: number): number[] {
      if (toInclusiveMs !== endMs || limit !== undefined) return calendar.instantsBetween(fromExclusiveMs, toInclusiveMs, limit);
      if (fromExclusiveMs < coveredFromMs) {
        covered = calendar.instantsBetween(fromExclusiveMs, coveredFromMs).concat(covered);
        coveredFromMs = fromExclusiveMs;
      }
      let lo = 0;
      let hi = covered.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (covered[mid] <= fromExclusiveMs) lo = mid + 1;
        else hi = mid;
      }
      return covered.slice(lo);
    },
  };
}

const calendars = new Map<string, CronSchedule>();
const CALENDAR_CACHE_MAX = 1000;

/**
 * cronCalendar returns a (cached) CronSchedule for (cron, timezone); the
 * cache keeps the latest 1000. Throws on an invalid expression.
 */
export function cronCalendar(cron: string, timezone: string): CronSchedule {
  const key = `${timezone}\n${cron}`;
  let calendar = calendars.get(key);
  if (!calendar) {
    calendar = new CronSchedule(cron, timezone);
    if (calendars.size >= CALENDAR_CACHE_MAX) calendars.delete(calendars.keys().next().value!);
    calendars.set(key, calendar);
  }
  return calendar;
}

/**
 * nextRunAt is the ISO 8601 (UTC) instant a schedule fires next after
 * `nowMs`, or null when it is paused or never fires again.
 */
export function nextRunAt(spec: Pick<ScheduleSpec, 'cron' | 'timezone' | 'paused'>, nowMs: number): string | null {
  if (spec.paused) return null;
  const next = cronCalendar(spec.cron, spec.timezone).nextAfter(nowMs);
  return next === null ? null : new Date(next).toISOString();
}
