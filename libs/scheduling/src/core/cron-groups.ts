import { createTask, type ScheduledTask } from 'node-cron';
import { cronCalendar, type CronCalendar } from './catch-up';
import type { ScheduleSpec } from './schedule-spec';

/** groupKey: schedules with the same (cron, timezone) share one node-cron task. */
export function groupKey(spec: Pick<ScheduleSpec, 'cron' | 'timezone'>): string {
  return `${spec.timezone}\n${spec.cron}`;
}

/**
 * groupSchedules: `specs` by groupKey, in the given order within a group.
 * The key is built once per group, not per schedule: at 100,000 schedules a
 * concatenated key per schedule (allocated, flattened, hashed) was a tenth
 * of a reload.
 */
export function groupSchedules(specs: Iterable<ScheduleSpec>): Map<string, ScheduleSpec[]> {
  const byZone = new Map<string, Map<string, ScheduleSpec[]>>();
  for (const spec of specs) {
    let byCron = byZone.get(spec.timezone);
    if (!byCron) byZone.set(spec.timezone, (byCron = new Map()));
    let members = byCron.get(spec.cron);
    if (!members) byCron.set(spec.cron, (members = []));
    members.push(spec);
  }
  const groups = new Map<string, ScheduleSpec[]>();
  for (const byCron of byZone.values()) for (const members of byCron.values()) groups.set(groupKey(members[0]), members);
  return groups;
}

/** CronGroup: one armed node-cron task, the names of the active schedules it fires, and the early wake-up for its next instant. */
interface CronGroup {
  task: ScheduledTask;
  names: Set<string>;
  calendar: CronCalendar & { nextAfter(ms: number): number | null };
  early?: NodeJS.Timeout;
  /** announcedMs: the latest instant already announced early. */
  announcedMs: number;
}

/** CronGroupsOptions: see CronGroups. */
export interface CronGroupsOptions {
  /** earlyMs: also call onTick this long before each instant, with that instant and `early` true (0 = never; default 0). */
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
 * instantMs, false)`; the caller catches up from its cursors, so a late or
 * missed tick is never dropped. With `earlyMs`, onTick is also called with
 * `early` true that long before each instant (for every instant, also when
 * earlyMs spans several; at once for those already inside it when the
 * group is armed), so the caller can have the instant's work done before it
 * comes (node-cron's own call for the instant follows; the caller's cursors
 * make the second call a no-op).
 */
export class CronGroups {
  private readonly groups = new Map<string, CronGroup>();
  private readonly earlyMs: number;
  private readonly nowMs: () => number;

  constructor(private readonly onTick: (key: string, instantMs: number, early: boolean) => void, options: CronGroupsOptions = {}) {
    this.earlyMs = options.earlyMs ?? 0;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /**
   * sync arms tasks for new groups, destroys those of groups without active
   * schedules, and sets each group's members: `active` is the active
   * schedules by groupKey (groupSchedules).
   */
  sync(active: ReadonlyMap<string, readonly ScheduleSpec[]>): void {
    for (const [key, group] of this.groups) {
      if (!active.has(key)) {
        this.disarm(group);
        this.groups.delete(key);
      }
    }
    for (const [key, specs] of active) {
      const names = new Set<string>();
      for (const spec of specs) names.add(spec.name);
      const group = this.groups.get(key);
      if (group) group.names = names;
      else {
        const spec = specs[0];
        this.groups.set(key, { task: this.arm(key, spec), names, calendar: cronCalendar(spec.cron, spec.timezone), announcedMs: this.nowMs() });
        this.wakeEarly(key);
      }
    }
  }

  /** members: the active schedule names of a group (empty once it is gone). */
  members(key: string): ReadonlySet<string> {
    return this.groups.get(key)?.names ?? new Set();
  }

  /** announcedUntil: the latest instant of group `key` announced early (0 without earlyMs or such a group). */
  announcedUntil(key: string): number {
    return this.earlyMs > 0 ? this.groups.get(key)?.announcedMs ?? 0 : 0;
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
   * wakeEarly announces, at once, every instant of the group that is already
   * within earlyMs and not announced yet, then sets the group's timer for
   * earlyMs before the next one. A timer that fires well before that (the
   * wall clock was set back) waits again instead of calling onTick.
   */
  private wakeEarly(key: string): void {
    const group = this.groups.get(key);
    if (!group || this.earlyMs <= 0) return;
    clearTimeout(group.early);
    group.early = undefined;
    for (;;) {
      const nextMs = group.calendar.nextAfter(Math.max(group.announcedMs, this.nowMs()));
      if (nextMs === null) return;
      const waitMs = nextMs - this.earlyMs - this.nowMs();
      if (waitMs > MAX_TIMER_MS) return;
      if (waitMs > 0) {
        group.early = setTimeout(() => {
          if (this.groups.get(key) !== group) return;
          if (nextMs - this.nowMs() > 2 * this.earlyMs) return this.wakeEarly(key);
          this.announce(key, group, nextMs);
          this.wakeEarly(key);
        }, waitMs);
        return;
      }
      this.announce(key, group, nextMs);
      if (this.groups.get(key) !== group) return; // onTick may have changed the groups
    }
  }

  private announce(key: string, group: CronGroup, instantMs: number): void {
    group.announcedMs = instantMs;
    this.onTick(key, instantMs, true);
  }

  private arm(key: string, spec: ScheduleSpec): ScheduledTask {
    const fire = (ctx: { date: Date }) => {
      this.onTick(key, ctx.date.getTime(), false);
      this.wakeEarly(key); // re-arms the early timer should it have been dropped (an instant beyond a timer's reach)
    };
    const task = createTask(spec.cron, fire, { timezone: spec.timezone, noOverlap: false, suppressMissedWarning: true });
    task.on('execution:missed', fire);
    void task.start();
    return task;
  }
}

/**
 * memoCalendar wraps a (cron, timezone) calendar so that equal ranges are
 * computed once (a new leader adopting what its predecessor wrote ahead:
 * 10,000 schedules up to one cursor cost one lookup, not 10,000).
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
