import { logs, tickJobId, type Clock, type EventLogger } from '@lib/common';
import { cronCalendar, dueTicks, suffixCalendar, type CronCalendar } from './catch-up';
import { CronGroups, groupSchedules, memoCalendar } from './cron-groups';
import type { Tick } from './enqueue-plan';
import { yieldToLoop, type EnqueueFence, type EnqueuedTick, type EnqueueResult, type PromoteOutcome } from './fenced-enqueuer';
import type { ScheduleSnapshot } from './schedule-store';
import type { MisfirePolicy, ScheduleSpec } from './schedule-spec';
import { FencedOffError } from './scheduling.errors';

/** RunDeps: what one leadership's scheduling needs (narrow views of the store and enqueuer). */
export interface RunDeps {
  store: { snapshot(): Promise<ScheduleSnapshot>; detectDataLoss(): Promise<{ lost: boolean }> };
  enqueuer: {
    enqueueTicks(fence: EnqueueFence, ticks: readonly Tick[], onBatch?: (part: EnqueueResult) => void): Promise<EnqueueResult>;
    promoteTicks(jobIds: readonly string[], nowMs: number): Promise<PromoteOutcome[]>;
  };
  clock: Clock;
  logger: EventLogger;
  catchUpWindowMs: number;
  /** writeAheadMs: how long before its instant each tick is written (see SchedulingRun); 0 writes ticks when they come. */
  writeAheadMs: number;
  retryDelayMs: number;
  fence: { leaseValue: string; fencingToken: number };
  /** knownNames: schedule names this node last loaded; outlives the run so a later term can report data loss. */
  knownNames: Set<string>;
  isValid(): boolean;
  /** onStop: called once when the run stops by itself (fenced off, leadership invalid). */
  onStop(reason: string, error?: unknown): void;
  /** onLag: how late the ticks of an instant of this term were written or became ready (see LagReport). */
  onLag?(report: LagReport): void;
}

/**
 * LagReport: how late the leader was with the ticks of the instant `atMs`
 * (`count` of them, at `readyAtMs`). `ahead: false`: they reached the wait
 * list (promoted at the instant, or written straight to wait: overlap=skip
 * ticks, ticks written after their instant, the catch-up); `lagMs` counts
 * from the instant, or for the catch-up of instants from before the term,
 * from the term's start. `ahead: true`: they were written ahead as delayed
 * jobs; `lagMs` counts from halfway through the write-ahead window
 * (atMs − writeAheadMs / 2), the latest a healthy leader writes them: a
 * leader falling behind shows there seconds before its ticks come late
 * (negative: in time). Reported per promotion and per enqueue batch, so an
 * instant may come more than once; never for ticks written ahead that were
 * due to be written before the term began.
 */
export interface LagReport {
  atMs: number;
  readyAtMs: number;
  lagMs: number;
  count: number;
  ahead: boolean;
}

/**
 * writeAheadFor: how far ahead a leader with lease `leaseMs` writes ticks:
 * at least lease + 1 s, so that the ticks of a leader that crashed are in
 * Redis until a new leader is up (see SchedulingRun), and half a second off
 * the whole second, so that writing the instants to come never coincides
 * with promoting the whole-second instant that is due (lease 2 s: 3.5 s).
 */
export function writeAheadFor(leaseMs: number): number {
  return Math.ceil((leaseMs + 1000) / 1000) * 1000 + 500;
}

/** WRITE_AHEAD_MS: the default of `writeAheadMs` (LeaderScheduler): writeAheadFor the default lease of 5 s, 6.5 s. */
export const WRITE_AHEAD_MS = writeAheadFor(5000);

/**
 * YIELD_EVERY: a reload hands the event loop back every this many schedules.
 * The lease is renewed from the same loop: at 10,000 schedules the load and
 * planning, run in one go while other nodes boot on the same cores, held it
 * past the renew deadline, and leadership moved from node to node (measured:
 * 20 terms in 50 s, no tick written).
 */
const YIELD_EVERY = 2000;

/**
 * SchedulingRun is the scheduling work of one leadership term: schedules and
 * cursors in memory, one node-cron task per (cron, timezone), and one
 * serialized chain that enqueues everything due (and reloads). Instants at or
 * after `liveSinceMs` (when this term began) are owed whatever the misfire
 * policy; earlier ones follow it.
 *
 * Ticks are written ahead: each cron group wakes `writeAheadMs` before each
 * of its instants, and that instant's ticks are written then as BullMQ
 * delayed jobs due at the instant (fenced and exactly once, like any tick;
 * the cursor moves when they are written). When the instant comes the run
 * moves them to wait in one script per 1,000 (promoteTicks) and logs
 * `schedule.fired`; Redis then only moves ids instead of creating jobs, and
 * should this leader die first, any worker promotes them by itself: the
 * ticks of the next `writeAheadMs` fire on time through a failover. A
 * schedule change withdraws its ticks written ahead (ScheduleStore).
 * overlap=skip schedules are the exception: whether their previous run is
 * still going is decided when node-cron fires the instant, never ahead.
 */
export class SchedulingRun {
  private readonly liveSinceMs: number;
  private readonly groups: CronGroups;
  private specs = new Map<string, ScheduleSpec>();
  /** skipNames: per cron group, the names of its active overlap=skip schedules (decided when the instant comes, never ahead). */
  private skipNames = new Map<string, string[]>();
  private cursors = new Map<string, number>();
  private rev = -1;
  private pending: Tick[] = [];
  private chain: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private reloadQueued?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  /** promotions: instant → the ticks written ahead for it, and the timer that promotes them when it comes. */
  private readonly promotions = new Map<number, { ticks: EnqueuedTick[]; timer: NodeJS.Timeout }>();
  private stopped = false;

  constructor(private readonly deps: RunDeps) {
    this.liveSinceMs = deps.clock.nowMs();
    this.groups = new CronGroups((key, instantMs, early) => this.onCronTick(key, instantMs, early), {
      earlyMs: deps.writeAheadMs, nowMs: () => deps.clock.nowMs(),
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

  /** stop destroys every task at once and drops pending ticks and promotions (workers promote those); settles when in-flight work has. */
  async stop(): Promise<void> {
    this.halt();
    await this.chain;
  }

  private halt(): void {
    this.stopped = true;
    this.groups.destroyAll();
    this.pending = [];
    clearTimeout(this.retryTimer);
    for (const { timer } of this.promotions.values()) clearTimeout(timer);
    this.promotions.clear();
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
    // the snapshot's maps become the run's (a cursor left without its schedule is never asked for)
    const { specs, cursors } = snapshot;
    const active: ScheduleSpec[] = [];
    let done = 0;
    for (const spec of specs.values()) { // one pass: at 100,000 schedules every extra copy shows
      if (!cursors.has(spec.name)) cursors.set(spec.name, Date.parse(spec.createdAt));
      if (!spec.paused) active.push(spec);
      if (++done % YIELD_EVERY === 0) await yieldToLoop();
    }
    if (this.stopped) return;
    const { knownNames } = this.deps;
    const firstLoad = this.rev === -1;
    if (lost) this.reportLoss([...knownNames].filter((name) => !specs.has(name)));
    knownNames.clear();
    for (const name of specs.keys()) knownNames.add(name);
    this.rev = snapshot.rev;
    this.specs = specs;
    this.cursors = cursors;
    this.pending = [];
    const groups = groupSchedules(active);
    // 1. the catch-up, up to now: what was missed follows each misfire policy (a cron tick that comes
    // while this loop yields plans from the same cursors, so nothing is planned twice)
    const nowMs = this.deps.clock.nowMs();
    for (const members of groups.values()) {
      const memo = this.dueMemo(members[0], nowMs);
      for (const spec of members) {
        this.planSchedule(spec, memo);
        if (++done % YIELD_EVERY === 0) {
          await yieldToLoop();
          if (this.stopped) return;
        }
      }
    }
    // 2. what an earlier leader wrote ahead is promoted by this one at its instant
    if (firstLoad) this.adoptWrittenAhead(groups, nowMs);
    // 3. the instants to come within writeAheadMs: a new group plans them as it is armed, and a schedule
    // new to a group armed before joins the instants that group has written ahead already
    this.groups.sync(groups);
    this.skipNames = new Map();
    for (const [key, members] of groups) {
      const skip = members.filter((spec) => spec.overlap === 'skip').map((spec) => spec.name);
      if (skip.length > 0) this.skipNames.set(key, skip);
    }
    for (const [key, members] of groups) {
      const untilMs = this.groups.announcedUntil(key);
      if (untilMs <= nowMs) continue;
      const memo = this.dueMemo(members[0], untilMs);
      for (const spec of members) if (spec.overlap !== 'skip') this.planSchedule(spec, memo);
    }
    await this.flush();
  }

  /**
   * adoptWrittenAhead: a schedule whose cursor (as loaded) is after now has
   * ticks written ahead by an earlier leader, up to that cursor; this term
   * promotes them at their instants like its own (the workers would anyway,
   * a little later, and without `schedule.fired`).
   */
  private adoptWrittenAhead(groups: ReadonlyMap<string, readonly ScheduleSpec[]>, nowMs: number): void {
    for (const members of groups.values()) {
      const calendar = memoCalendar(members[0]);
      for (const spec of members) {
        const cursorMs = this.cursors.get(spec.name) ?? 0;
        if (cursorMs <= nowMs || spec.overlap === 'skip') continue;
        for (const fireAtMs of calendar.instantsBetween(nowMs, cursorMs)) {
          this.promoteAt({ spec, fireAtMs, jobId: tickJobId(spec.name, fireAtMs), enqueuedAtMs: nowMs, ahead: true });
        }
      }
    }
  }

  /** reportLoss: Redis came back without its data (no AOF?); name what this node knew and is now gone. */
  private reportLoss(missing: string[]): void {
    const msg = missing.length > 0
      ? `Redis lost its data: ${missing.length} schedule(s) this node knew are gone (${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}); register them again`
      : 'Redis lost its data (its meta key was recreated); no schedule this node knew is missing';
    this.deps.logger.log(missing.length > 0 ? 'error' : 'warn', 'schedules.missing', msg, { names: missing, count: missing.length });
  }

  /**
   * A cron group's instant: written ahead when `early`, except for
   * overlap=skip schedules (decided when it comes). When the instant itself
   * comes and the group announced it early, every other member's cursor is
   * past it already (the early call, or a reload since, planned it), so only
   * the overlap=skip ones are looked at: the call lands on the instant, next
   * to its promotion, and at 10,000 schedules the no-op pass over all of them
   * held the event loop ~3 ms every instant. Like the members, they are
   * names looked up in the specs loaded last (a reload that yields swaps the
   * specs before it re-groups them).
   */
  private onCronTick(key: string, instantMs: number, early: boolean): void {
    if (this.stopped) return;
    const memo = this.dueMemo(parseKey(key), instantMs);
    if (!early && this.groups.announcedUntil(key) >= instantMs) {
      for (const name of this.skipNames.get(key) ?? []) {
        const spec = this.specs.get(name);
        if (spec && !spec.paused) this.planSchedule(spec, memo);
      }
    } else {
      for (const name of this.groups.members(key)) {
        const spec = this.specs.get(name);
        if (spec && !spec.paused && !(early && spec.overlap === 'skip')) this.planSchedule(spec, memo);
      }
    }
    if (!this.flushQueued && this.pending.length > 0) {
      this.flushQueued = true;
      void this.enqueueWork(() => this.flush());
    }
  }

  /** dueMemo: a DueMemo for the group of `spec` (cron, timezone) up to `endMs`. */
  private dueMemo(spec: Pick<ScheduleSpec, 'cron' | 'timezone'>, endMs: number): DueMemo {
    const calendar = suffixCalendar(cronCalendar(spec.cron, spec.timezone), endMs);
    return new DueMemo(calendar, { nowMs: endMs, windowMs: this.deps.catchUpWindowMs, liveSinceMs: this.liveSinceMs });
  }

  /** Queues the due ticks of one schedule up to the memo's end (an instant still to come, when writing ahead) and moves its in-memory cursor past them. */
  private planSchedule(spec: ScheduleSpec, memo: DueMemo): void {
    const cursorMs = this.cursors.get(spec.name) ?? this.liveSinceMs;
    for (const fireAtMs of memo.dueTicks(cursorMs, spec.misfire)) this.pending.push({ spec, fireAtMs });
    if (memo.endMs > cursorMs) this.cursors.set(spec.name, memo.endMs);
  }

  /** Enqueues everything pending in one call (the enqueuer batches it, ENQUEUE_BATCH_SIZE); reloads when schedules changed. */
  private async flush(): Promise<void> {
    this.flushQueued = false;
    if (this.stopped || this.pending.length === 0) return;
    if (!this.deps.isValid()) return this.stopSelf('leadership-invalid');
    const ticks = this.pending;
    this.pending = [];
    // Reported batch by batch: logs follow the enqueue, and a big catch-up holds no list of all its results.
    const caughtUp = new Map<string, number>();
    const result = await this.deps.enqueuer.enqueueTicks({ ...this.deps.fence, rev: this.rev }, ticks,
      (part) => this.report(part, caughtUp));
    for (const [schedule, count] of caughtUp) {
      this.deps.logger.log('info', 'schedule.caught-up', `${schedule}: ${count} missed tick(s) enqueued`, { schedule, count });
    }
    if (result.stale && !this.stopped) void this.requestReload();
  }

  /**
   * report logs one batch's fired and skipped ticks, and counts its caught-up
   * ticks per schedule into `caughtUp`. Ticks written ahead fire when they
   * are promoted at their instant (promoteAt).
   */
  private report(result: EnqueueResult, caughtUp: Map<string, number>): void {
    const { logger } = this.deps;
    const fired: EnqueuedTick[] = [];
    for (const t of result.enqueued) {
      if (t.ahead) this.promoteAt(t);
      else fired.push(t);
      if (t.fireAtMs < this.liveSinceMs) caughtUp.set(t.spec.name, (caughtUp.get(t.spec.name) ?? 0) + 1);
    }
    this.logFired(fired);
    this.reportLag(result.enqueued);
    for (const { tick, reason } of result.skipped) {
      if (reason === 'stale-schedules') continue; // recomputed after the reload
      const scheduledFor = new Date(tick.fireAtMs).toISOString();
      logger.log(reason === 'overlap' ? 'info' : 'debug', 'schedule.skipped', `${tick.spec.name} skipped ${scheduledFor}: ${reason}`, {
        schedule: tick.spec.name, scheduledFor, reason,
      });
    }
  }

  /** logFired logs `schedule.fired` per tick, with its lag (to `readyAtMs` when given); when info is off the lines are not even built. */
  private logFired(ticks: EnqueuedTick[], readyAtMs?: number): void {
    const { logger } = this.deps;
    if (ticks.length === 0 || !logs(logger, 'info')) return;
    const iso = new Map<number, string>(); // thousands of ticks share an instant
    for (const t of ticks) {
      let scheduledFor = iso.get(t.fireAtMs);
      if (scheduledFor === undefined) iso.set(t.fireAtMs, (scheduledFor = new Date(t.fireAtMs).toISOString()));
      logger.log('info', 'schedule.fired', `${t.spec.name} fired for ${scheduledFor}`, {
        schedule: t.spec.name, scheduledFor, jobId: t.jobId, lagMs: (readyAtMs ?? t.enqueuedAtMs) - t.fireAtMs,
      });
    }
  }

  /** reportLag: onLag per instant of this term and kind (ahead or ready) among one batch's ticks. */
  private reportLag(ticks: readonly EnqueuedTick[]): void {
    const { onLag, writeAheadMs } = this.deps;
    if (!onLag) return;
    const byInstant = new Map<number, LagReport>(); // keyed by ±instant: written ahead, or ready
    for (const t of ticks) {
      if (t.ahead && t.fireAtMs - writeAheadMs < this.liveSinceMs) continue; // due to be written before the term began
      const key = t.ahead ? -t.fireAtMs : t.fireAtMs;
      const r = byInstant.get(key);
      if (r) { r.count++; continue; }
      // ready ticks are owed from their instant, the catch-up from the term's start; written ahead, from halfway
      const fromMs = t.ahead ? t.fireAtMs - writeAheadMs / 2 : Math.max(t.fireAtMs, this.liveSinceMs);
      byInstant.set(key, { atMs: t.fireAtMs, readyAtMs: t.enqueuedAtMs, lagMs: Math.round(t.enqueuedAtMs - fromMs), count: 1, ahead: t.ahead });
    }
    for (const r of byInstant.values()) onLag(r);
  }

  /** promoteAt joins a tick written ahead to its instant's promotion, setting that promotion's timer if it is the first. */
  private promoteAt(tick: EnqueuedTick): void {
    if (this.stopped) return;
    const atMs = tick.fireAtMs;
    let due = this.promotions.get(atMs);
    if (!due) {
      const waitMs = Math.max(0, atMs - this.deps.clock.nowMs() - 1); // the last millisecond is waited out in promote
      due = { ticks: [], timer: setTimeout(() => void this.promote(atMs), waitMs) };
      this.promotions.set(atMs, due);
    }
    due.ticks.push(tick);
  }

  /**
   * promote moves the ticks written ahead for `atMs` to wait once the wall
   * clock reached it (never before) and logs those that fired. Nothing is
   * done once the leadership is over, and a failure is only logged: in both
   * cases the workers promote the jobs by themselves (BullMQ's delayed jobs).
   */
  private async promote(atMs: number): Promise<void> {
    await untilWallClock(this.deps.clock, atMs);
    const due = this.promotions.get(atMs);
    this.promotions.delete(atMs);
    if (!due || this.stopped || !this.deps.isValid()) return;
    let outcomes: PromoteOutcome[];
    try {
      outcomes = await this.deps.enqueuer.promoteTicks(due.ticks.map((t) => t.jobId), atMs);
    } catch (err) {
      const error = (err as Error)?.message ?? String(err);
      this.deps.logger.log('warn', 'schedule.promote-failed', `could not move the ticks of ${new Date(atMs).toISOString()} to wait (workers will): ${error}`, {
        scheduledFor: new Date(atMs).toISOString(), count: due.ticks.length, error,
      });
      return;
    }
    if (this.stopped) return;
    const readyAtMs = this.deps.clock.nowMs();
    // 'earlier': a worker promoted it first; 'gone': a schedule change withdrew it
    this.logFired(due.ticks.filter((_, i) => outcomes[i] === 'moved' || outcomes[i] === 'earlier'), readyAtMs);
    this.deps.onLag?.({ atMs, readyAtMs, lagMs: readyAtMs - atMs, count: due.ticks.length, ahead: false });
  }

  /** A fence error ends the run; any other error reloads from Redis after a delay (cursors there are the truth). */
  private onWorkError(err: unknown): void {
    if (this.stopped) return;
    if (err instanceof FencedOffError) return this.stopSelf('fenced-off', err);
    this.deps.logger.log('error', 'schedule.enqueue-failed', `scheduling pass failed, retrying: ${(err as Error)?.message ?? err}`, {
      error: (err as Error)?.message ?? String(err), retryInMs: this.deps.retryDelayMs,
    });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.requestReload(), this.deps.retryDelayMs);
  }
}

/**
 * DueMemo: within one pass over one (cron, timezone) group up to one end,
 * schedules with the same cursor and misfire policy have the same due
 * instants; compute them once (10,000 schedules at one cursor cost one
 * dueTicks, not 10,000). Schedules with distinct cursors share the group's
 * instants through its calendar (suffixCalendar). A pass to another end
 * takes another memo.
 */
class DueMemo {
  private readonly byCursor = new Map<number, Map<MisfirePolicy, number[]>>();
  readonly endMs: number;

  constructor(private readonly calendar: CronCalendar, private readonly window: { nowMs: number; windowMs: number; liveSinceMs: number }) {
    this.endMs = window.nowMs;
  }

  dueTicks(cursorMs: number, misfire: MisfirePolicy): number[] {
    let byMisfire = this.byCursor.get(cursorMs);
    if (!byMisfire) this.byCursor.set(cursorMs, (byMisfire = new Map()));
    let due = byMisfire.get(misfire);
    if (!due) byMisfire.set(misfire, (due = dueTicks({ ...this.window, cursorMs, misfire, cron: this.calendar })));
    return due;
  }
}

/** untilWallClock resolves once `clock.nowMs()` reached `atMs` (a timer for the bulk of the wait, then turns of the loop). */
async function untilWallClock(clock: Clock, atMs: number): Promise<void> {
  for (let leftMs = atMs - clock.nowMs(); leftMs > 0; leftMs = atMs - clock.nowMs()) {
    await new Promise<void>((resolve) => (leftMs > 1 ? setTimeout(resolve, leftMs - 1) : setImmediate(resolve)));
  }
}

function parseKey(key: string): Pick<ScheduleSpec, 'cron' | 'timezone'> {
  const [timezone, cron] = key.split('\n');
  return { cron, timezone };
}
