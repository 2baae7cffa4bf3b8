import { createTask, type ScheduledTask } from 'node-cron';
import { cronCalendar, type CronCalendar } from './catch-up';
import type { ScheduleSpec } from './schedule-spec';

/** groupKey: schedules with the same (cron, timezone) share one node-cron task. */
export function groupKey(spec: Pick<ScheduleSpec, 'cron' | 'timezone'>): string {
  return `${spec.timezone}\n${spec.cron}`;
}

/** CronGroup: one armed node-cron task and the names of the active schedules it fires. */
interface CronGroup {
  task: ScheduledTask;
  names: Set<string>;
}

/**
 * CronGroups keeps exactly one started node-cron task per distinct
 * (cron, timezone) of the active schedules. A task's tick, or a tick
 * node-cron reports as missed (event loop blocked), calls `onTick(key,
 * instantMs)`; the caller catches up from its cursors, so a late or missed
 * tick is never dropped.
 */
export class CronGroups {
  private readonly groups = new Map<string, CronGroup>();

  constructor(private readonly onTick: (key: string, instantMs: number) => void) {}

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
        void group.task.destroy();
        this.groups.delete(key);
      }
    }
    for (const [key, { spec, names }] of wanted) {
      const group = this.groups.get(key);
      if (group) group.names = names;
      else this.groups.set(key, { task: this.arm(key, spec), names });
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
    for (const group of this.groups.values()) void group.task.destroy();
    this.groups.clear();
  }

  private arm(key: string, spec: ScheduleSpec): ScheduledTask {
    const fire = (ctx: { date: Date }) => this.onTick(key, ctx.date.getTime());
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
