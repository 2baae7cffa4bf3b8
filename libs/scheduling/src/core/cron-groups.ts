import { createTask, type ScheduledTask } from 'node-cron';
import { cronCalendar, type CronCalendar } from './catch-up';
import type { ScheduleSpec } from './schedule-spec';

/** groupKey: schedules with the same (cron, timezone) share one node-cron task. */
export function groupKey(spec: Pick<ScheduleSpec, 'cron' | 'timezone'>): string {
  return `${spec.timezone}\n${spec.cron}`;
}

/** CronGroup: one armed node-cron task, the names of the active schedules it fires, and the early wake-up for its next instant. */
interface CronGroup {
  task: ScheduledTask;
  names: Set<string>;
  calendar: CronCalendar & { nextAfter(ms: number): number | null };
  early?: NodeJS.Timeout;
}

/** CronGroupsOptions: see CronGroups. */
export interface CronGroupsOptions {
  /** earlyMs: also call onTick this long before each instant, with that instant (0 = never; default 0). */
  earlyMs?: number;
  /** nowMs: the wall clock (default Date.now). */
  nowMs?: () => number;
}

/** The longest a timer can wait (setTimeout's limit); an instant further away is left to node-cron alone. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * CronGroups keeps exactly one started node-cron task per distinct
 * (cron, timezone) of the active schedules. A task's tick, or a tick
 * node-cron reports as missed (event loop blocked), calls `onTick(key,
 * instantMs)`; the caller catches up from its cursors, so a late or missed
 * tick is never dropped. With `earlyMs`, onTick is also called that long
 * before each instant, so the caller can have the instant's work ready when
 * it comes (node-cron's own call for the instant follows; the caller's
 * cursors make the second call a no-op).
 */
export class CronGroups {
  private readonly groups = new Map<string, CronGroup>();
  private readonly earlyMs: number;
  private readonly nowMs: () => number;

  constructor(private readonly onTick: (key: string, instantMs: number) => void, options: CronGroupsOptions = {}) {
    this.earlyMs = options.earlyMs ?? 0;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** sync arms tasks for new groups, destroys those of groups without active schedules, and sets each group's members. */
  sync(active: readonly ScheduleSpec[]): void {
    const wanted = new Map<string, { spec: ScheduleSpec; names: Set<string> }>();
    for (const spec of active) {
      const key = groupKey(spec);
      const entry = wanted.get(key) ?? { spec, names: new Set<string>() };
      entry.names.add(spec.name);
      wanted.set(key, entry);
    }
    for (const [key, group] of this.groups) {
      if (!wanted.has(key)) {
        this.disarm(group);
        this.groups.delete(key);
      }
    }
    for (const [key, { spec, names }] of wanted) {
      const group = this.groups.get(key);
      if (group) group.names = names;
      else {
        this.groups.set(key, { task: this.arm(key, spec), names, calendar: cronCalendar(spec.cron, spec.timezone) });
        this.wakeEarly(key, this.nowMs());
      }
    }
  }

  /** members: the active schedule names of a group (empty once it is gone). */
  members(key: string): ReadonlySet<string> {
    return this.groups.get(key)?.names ?? new Set();
  }

  /** size: the number of armed node-cron tasks. */
  get size(): number {
    return this.groups.size;
  }

  /** destroyAll stops and destroys every task at once. */
  destroyAll(): void {
    for (const group of this.groups.values()) this.disarm(group);
    this.groups.clear();
  }

  private disarm(group: CronGroup): void {
    clearTimeout(group.early);
    void group.task.destroy();
  }

  /**
   * wakeEarly sets the group's timer for earlyMs before its next instant
   * after `afterMs`. A timer that fires well before that (the wall clock was
   * set back) waits again instead of calling onTick.
   */
  private wakeEarly(key: string, afterMs: number): void {
    const group = this.groups.get(key);
    if (!group || this.earlyMs <= 0) return;
    clearTimeout(group.early);
    group.early = undefined;
    const nextMs = group.calendar.nextAfter(Math.max(afterMs, this.nowMs()));
    if (nextMs === null) return;
    const waitMs = nextMs - this.earlyMs - this.nowMs();
    if (waitMs > MAX_TIMER_MS) return;
    group.early = setTimeout(() => {
      if (this.groups.get(key) !== group) return;
      if (nextMs - this.nowMs() > 2 * this.earlyMs) return this.wakeEarly(key, afterMs);
      this.onTick(key, nextMs);
    }, Math.max(0, waitMs));
  }

  private arm(key: string, spec: ScheduleSpec): ScheduledTask {
    const fire = (ctx: { date: Date }) => {
      const instantMs = ctx.date.getTime();
      this.onTick(key, instantMs);
      this.wakeEarly(key, instantMs);
    };
    const task = createTask(spec.cron, fire, { timezone: spec.timezone, noOverlap: false, suppressMissedWarning: true });
    task.on('execution:missed', fire);
    void task.start();
    return task;
  }
}

/**
 * memoCalendar wraps a (cron, timezone) calendar so that, for one tick,
 * schedules sharing a cursor share one computation (10,000 schedules of one
 * cron cost one lookup, not 10,000).
 */
export function memoCalendar(spec: Pick<ScheduleSpec, 'cron' | 'timezone'>): CronCalendar {
  const calendar = cronCalendar(spec.cron, spec.timezone);
  const memo = new Map<string, number[]>();
  return {
    instantsBetween(fromExclusiveMs: number, toInclusiveMs: number, limit?: number): number[] {
      const key = `${fromExclusiveMs}:${toInclusiveMs}:${limit}`;
      let instants = memo.get(key);
      if (!instants) {
        instants = calendar.instantsBetween(fromExclusiveMs, toInclusiveMs, limit);
        memo.set(key, instants);
      }
      return instants;
    },
  };
}
