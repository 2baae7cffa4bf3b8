import { logs, type Clock, type EventLogger } from '@lib/common';
import { dueTicks, type CronCalendar } from './catch-up';
import { CronGroups, groupKey, memoCalendar } from './cron-groups';
import type { Tick } from './enqueue-plan';
import type { EnqueueFence, EnqueueResult, EnqueueTiming } from './fenced-enqueuer';
import type { ScheduleSnapshot } from './schedule-store';
import type { MisfirePolicy, ScheduleSpec } from './schedule-spec';
import { FencedOffError, LeadershipEndedError } from './scheduling.errors';

/** RunDeps: what one leadership's scheduling needs (narrow views of the store and enqueuer). */
export interface RunDeps {
  store: { snapshot(): Promise<ScheduleSnapshot>; detectDataLoss(): Promise<{ lost: boolean }> };
  enqueuer: {
    enqueueTicks(fence: EnqueueFence, ticks: readonly Tick[], onBatch?: (part: EnqueueResult) => void, timing?: EnqueueTiming): Promise<EnqueueResult>;
  };
  clock: Clock;
  logger: EventLogger;
  catchUpWindowMs: number;
  retryDelayMs: number;
  fence: { leaseValue: string; fencingToken: number };
  /** knownNames: schedule names this node last loaded; outlives the run so a later term can report data loss. */
  knownNames: Set<string>;
  isValid(): boolean;
  /** onStop: called once when the run stops by itself (fenced off, leadership invalid). */
  onStop(reason: string, error?: unknown): void;
}

/**
 * PREPARE_AHEAD_MS: each cron group wakes this long before its instant; the
 * instant's ticks are planned and their first MULTI drafted then, and sent
 * the moment the instant comes (never before). Drafting 500 jobs takes
 * ~25 ms here; the rest is margin for a busy event loop.
 */
export const PREPARE_AHEAD_MS = 100;

/**
 * SchedulingRun is the scheduling work of one leadership term: schedules and
 * cursors in memory, one node-cron task per (cron, timezone), and one
 * serialized chain that enqueues everything due (and reloads). Instants at or
 * after `liveSinceMs` (when this term began) are owed whatever the misfire
 * policy; earlier ones follow it.
 */
export class SchedulingRun {
  private readonly liveSinceMs: number;
  private readonly groups: CronGroups;
  private specs = new Map<string, ScheduleSpec>();
  private cursors = new Map<string, number>();
  private rev = -1;
  private pending: Tick[] = [];
  private chain: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private reloadQueued?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly deps: RunDeps) {
    this.liveSinceMs = deps.clock.nowMs();
    this.groups = new CronGroups((key, instantMs) => this.onCronTick(key, instantMs), {
      earlyMs: PREPARE_AHEAD_MS, nowMs: () => deps.clock.nowMs(),
    });
  }

  /** start loads every schedule, catches up and arms the tasks; settles when that first pass is done. */
  start(): Promise<void> {
    return this.requestReload();
  }

  /** noteRevision asks for a reload when a change message (or a poll) shows a revision other than the loaded one. */
  noteRevision(rev: number): void {
    if (!this.stopped && rev !== this.rev) void this.requestReload();
  }

  /** Queues one reload; requests made while one is still queued join it. */
  private requestReload(): Promise<void> {
    if (this.reloadQueued) return this.reloadQueued;
    this.reloadQueued = this.enqueueWork(() => {
      this.reloadQueued = undefined;
      return this.reload();
    });
    return this.reloadQueued;
  }

  /** stop destroys every task at once and drops pending ticks; settles when in-flight work has. */
  async stop(): Promise<void> {
    this.halt();
    await this.chain;
  }

  private halt(): void {
    this.stopped = true;
    this.groups.destroyAll();
    this.pending = [];
    clearTimeout(this.retryTimer);
  }

  private stopSelf(reason: string, error?: unknown): void {
    if (this.stopped) return;
    this.halt();
    this.deps.onStop(reason, error);
  }

  private enqueueWork(work: () => Promise<void>): Promise<void> {
    const run = this.chain.then(() => (this.stopped ? undefined : work()));
    this.chain = run.catch((err) => this.onWorkError(err));
    return this.chain;
  }

  /** 1. read the snapshot, 2. report lost data, 3. re-arm groups, 4. catch every schedule up to now. */
  private async reload(): Promise<void> {
    const snapshot = await this.deps.store.snapshot();
    const { lost } = await this.deps.store.detectDataLoss();
    if (this.stopped) return;
    const specs = new Map<string, ScheduleSpec>();
    const cursors = new Map<string, number>();
    const active: ScheduleSpec[] = [];
    for (const spec of snapshot.specs) { // one pass: at 100,000 schedules every extra copy shows
      specs.set(spec.name, spec);
      cursors.set(spec.name, snapshot.cursors.get(spec.name) ?? Date.parse(spec.createdAt));
      if (!spec.paused) active.push(spec);
    }
    const { knownNames } = this.deps;
    if (lost) this.reportLoss([...knownNames].filter((name) => !specs.has(name)));
    knownNames.clear();
    for (const name of specs.keys()) knownNames.add(name);
    this.rev = snapshot.rev;
    this.specs = specs;
    this.cursors = cursors;
    this.groups.sync(active);
    this.pending = [];
    const nowMs = this.deps.clock.nowMs();
    const calendars = new Map<string, DueMemo>();
    for (const spec of active) {
      const key = groupKey(spec);
      let memo = calendars.get(key);
      if (!memo) calendars.set(key, (memo = new DueMemo(memoCalendar(spec))));
      this.planSchedule(spec, nowMs, memo);
    }
    await this.flush();
  }

  /** reportLoss: Redis came back without its data (no AOF?); name what this node knew and is now gone. */
  private reportLoss(missing: string[]): void {
    const msg = missing.length > 0
      ? `Redis lost its data: ${missing.length} schedule(s) this node knew are gone (${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}); register them again`
      : 'Redis lost its data (its meta key was recreated); no schedule this node knew is missing';
    this.deps.logger.log(missing.length > 0 ? 'error' : 'warn', 'schedules.missing', msg, { names: missing, count: missing.length });
  }

  private onCronTick(key: string, instantMs: number): void {
    if (this.stopped) return;
    const calendar = new DueMemo(memoCalendar(parseKey(key)));
    for (const name of this.groups.members(key)) {
      const spec = this.specs.get(name);
      if (spec && !spec.paused) this.planSchedule(spec, instantMs, calendar);
    }
    if (!this.flushQueued && this.pending.length > 0) {
      this.flushQueued = true;
      void this.enqueueWork(() => this.flush());
    }
  }

  /** Queues the due ticks of one schedule up to `nowMs` and moves its in-memory cursor past them. */
  private planSchedule(spec: ScheduleSpec, nowMs: number, memo: DueMemo): void {
    const cursorMs = this.cursors.get(spec.name) ?? this.liveSinceMs;
    const due = memo.dueTicks(cursorMs, spec.misfire, (cron) =>
      dueTicks({ cursorMs, nowMs, windowMs: this.deps.catchUpWindowMs, misfire: spec.misfire, cron, liveSinceMs: this.liveSinceMs }));
    for (const fireAtMs of due) this.pending.push({ spec, fireAtMs });
    if (nowMs > cursorMs) this.cursors.set(spec.name, nowMs);
  }

  /** Enqueues everything pending in one call (the enqueuer batches by 500); reloads when schedules changed. */
  private async flush(): Promise<void> {
    this.flushQueued = false;
    if (this.stopped || this.pending.length === 0) return;
    if (!this.deps.isValid()) return this.stopSelf('leadership-invalid');
    const ticks = this.pending;
    this.pending = [];
    // Reported batch by batch: logs follow the enqueue, and a big catch-up holds no list of all its results.
    const caughtUp = new Map<string, number>();
    // Ticks of an instant still to come (an early wake-up) leave at that instant: never before it.
    let notBeforeMs = 0;
    for (const t of ticks) if (t.fireAtMs > notBeforeMs) notBeforeMs = t.fireAtMs;
    const result = await this.deps.enqueuer.enqueueTicks({ ...this.deps.fence, rev: this.rev }, ticks,
      (part) => this.report(part, caughtUp), { notBeforeMs, isValid: () => this.deps.isValid() });
    for (const [schedule, count] of caughtUp) {
      this.deps.logger.log('info', 'schedule.caught-up', `${schedule}: ${count} missed tick(s) enqueued`, { schedule, count });
    }
    if (result.stale && !this.stopped) void this.requestReload();
  }

  /** report logs one batch's fired and skipped ticks, and counts its caught-up ticks per schedule into `caughtUp`. */
  private report(result: EnqueueResult, caughtUp: Map<string, number>): void {
    const { logger } = this.deps;
    const iso = new Map<number, string>(); // thousands of ticks share an instant
    const firedLogged = logs(logger, 'info'); // one line per tick: not even built when info is off
    for (const t of result.enqueued) {
      if (t.fireAtMs < this.liveSinceMs) caughtUp.set(t.spec.name, (caughtUp.get(t.spec.name) ?? 0) + 1);
      if (!firedLogged) continue;
      let scheduledFor = iso.get(t.fireAtMs);
      if (scheduledFor === undefined) iso.set(t.fireAtMs, (scheduledFor = new Date(t.fireAtMs).toISOString()));
      logger.log('info', 'schedule.fired', `${t.spec.name} fired for ${scheduledFor}`, {
        schedule: t.spec.name, scheduledFor, jobId: t.jobId, lagMs: t.enqueuedAtMs - t.fireAtMs,
      });
    }
    for (const { tick, reason } of result.skipped) {
      if (reason === 'stale-schedules') continue; // recomputed after the reload
      const scheduledFor = new Date(tick.fireAtMs).toISOString();
      logger.log(reason === 'overlap' ? 'info' : 'debug', 'schedule.skipped', `${tick.spec.name} skipped ${scheduledFor}: ${reason}`, {
        schedule: tick.spec.name, scheduledFor, reason,
      });
    }
  }

  /** A fence error ends the run; any other error reloads from Redis after a delay (cursors there are the truth). */
  private onWorkError(err: unknown): void {
    if (this.stopped) return;
    if (err instanceof FencedOffError) return this.stopSelf('fenced-off', err);
    if (err instanceof LeadershipEndedError) return this.stopSelf('leadership-invalid');
    this.deps.logger.log('error', 'schedule.enqueue-failed', `scheduling pass failed, retrying: ${(err as Error)?.message ?? err}`, {
      error: (err as Error)?.message ?? String(err), retryInMs: this.deps.retryDelayMs,
    });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.requestReload(), this.deps.retryDelayMs);
  }
}

/**
 * DueMemo: within one pass over one (cron, timezone) group, schedules with the
 * same cursor and misfire policy have the same due instants; compute them once
 * (10,000 schedules at one cursor cost one dueTicks, not 10,000).
 */
class DueMemo {
  private readonly byCursor = new Map<number, Map<MisfirePolicy, number[]>>();

  constructor(private readonly calendar: CronCalendar) {}

  dueTicks(cursorMs: number, misfire: MisfirePolicy, compute: (calendar: CronCalendar) => number[]): number[] {
    let byMisfire = this.byCursor.get(cursorMs);
    if (!byMisfire) this.byCursor.set(cursorMs, (byMisfire = new Map()));
    let due = byMisfire.get(misfire);
    if (!due) byMisfire.set(misfire, (due = compute(this.calendar)));
    return due;
  }
}

function parseKey(key: string): Pick<ScheduleSpec, 'cron' | 'timezone'> {
  const [timezone, cron] = key.split('\n');
  return { cron, timezone };
}
