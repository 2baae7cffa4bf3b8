import type { Redis } from 'ioredis';
import { silentLogger, systemClock, type Clock, type EventLogger } from '@lib/common';
import { CATCH_UP_WINDOW_MS } from './catch-up';
import type { FencedEnqueuer } from './fenced-enqueuer';
import type { ScheduleStore } from './schedule-store';
import { SchedulingRun, WRITE_AHEAD_MS, type LagReport } from './scheduling-run';
import { SchedulingMessages } from './scheduling.messages';

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** SchedulerLeadership: one term, as the election hands it over. Aborting `signal` ends it. */
export interface SchedulerLeadership {
  /** token: the fencing token (term). */
  token: number;
  /** leaseValue: the lease string in Redis, `<token>:<nodeId>`; default built from `nodeId`. */
  leaseValue?: string;
  signal: AbortSignal;
  /** isValid: false once the renew deadline passed (own monotonic clock); checked before every enqueue. */
  isValid(): boolean;
}

/** LeaderSchedulerOptions: see LeaderScheduler. */
export interface LeaderSchedulerOptions {
  store: Pick<ScheduleStore, 'snapshot' | 'detectDataLoss' | 'subscribeChanges' | 'rev'>;
  enqueuer: Pick<FencedEnqueuer, 'enqueueTicks' | 'promoteTicks'>;
  clock?: Clock;
  logger?: EventLogger;
  /** catchUpWindowMs: how far back missed ticks are owed (default CATCH_UP_WINDOW_MS, 10 minutes). */
  catchUpWindowMs?: number;
  /**
   * writeAheadMs: each tick is written this long before its instant, as a
   * delayed job that moves to wait at the instant (default WRITE_AHEAD_MS,
   * 6.5 s; writeAheadFor(lease) for another lease). Longer than the lease,
   * the ticks due while a crashed leader is replaced still fire on time. 0
   * writes each tick when its instant comes.
   */
  writeAheadMs?: number;
  /** subscriber: a dedicated connection for change messages (enters subscriber mode); without it, only polling. */
  subscriber?: Redis;
  /** nodeId: forms the lease value `<token>:<nodeId>` when a Leadership has no leaseValue. */
  nodeId?: string;
  /** revPollMs: how often the schedules revision is polled as a backstop to pub/sub (default 5000). */
  revPollMs?: number;
  /** retryDelayMs: wait before reloading after a failed pass (default 1000). */
  retryDelayMs?: number;
  /** stopTimeoutMs: how long lead() waits, after the end, for an in-flight enqueue to settle (default 2000). */
  stopTimeoutMs?: number;
  /** onFencedOff: called when Redis refused this leader (lease not ours) or it saw its leadership invalid. */
  onFencedOff?(reason: string, error?: unknown): void;
}

/**
 * LeaderScheduler runs the scheduling of a leader. `lead()` loads every
 * schedule, enqueues the ticks missed since each cursor (per misfire policy,
 * within catchUpWindowMs), arms one node-cron task per (cron, timezone), and
 * from then on enqueues every tick through the FencedEnqueuer; schedule
 * changes arrive by pub/sub (and a revision poll) and re-arm the affected
 * groups. It resolves when `signal` aborts, after destroying every task and
 * letting in-flight work settle, or earlier when Redis fenced it off (then
 * `onFencedOff` is called and the caller should give up leadership).
 */
export class LeaderScheduler {
  private readonly opts: LeaderSchedulerOptions & { clock: Clock; logger: EventLogger };
  /** knownNames: the schedules this node loaded last time it led (data-loss reports need them across terms). */
  private readonly knownNames = new Set<string>();
  private readonly lagListeners = new Set<(report: LagReport) => void>();

  constructor(options: LeaderSchedulerOptions) {
    for (const field of ['store', 'enqueuer'] as const) {
      if (!options?.[field]) throw new Error(SchedulingMessages.missingOption('LeaderScheduler', field));
    }
    const window = options.catchUpWindowMs ?? CATCH_UP_WINDOW_MS;
    if (!(window >= 0)) throw new Error('LeaderScheduler: option catchUpWindowMs must be >= 0');
    const ahead = options.writeAheadMs ?? WRITE_AHEAD_MS;
    if (!(ahead >= 0)) throw new Error('LeaderScheduler: option writeAheadMs must be >= 0');
    this.opts = { ...options, clock: options.clock ?? systemClock, logger: options.logger ?? silentLogger };
  }

  /**
   * onLag calls `listener` each time a leader on this node has moved an
   * instant's ticks to wait (its enqueue lag for that instant), in every
   * term, until the returned function is called. A listener that throws is
   * ignored.
   */
  onLag(listener: (report: LagReport) => void): () => void {
    this.lagListeners.add(listener);
    return () => void this.lagListeners.delete(listener);
  }

  /** lead schedules for one leadership term; resolves when it ends (see class doc). */
  async lead(leadership: SchedulerLeadership): Promise<void> {
    if (leadership.signal.aborted) return;
    const { opts } = this;
    const leaseValue = leadership.leaseValue ?? (opts.nodeId ? `${leadership.token}:${opts.nodeId}` : undefined);
    if (!leaseValue) throw new Error('LeaderScheduler.lead: give leadership.leaseValue or the nodeId option');
    let finish!: () => void;
    const ended = new Promise<void>((resolve) => { finish = resolve; });
    const run = new SchedulingRun({
      store: opts.store, enqueuer: opts.enqueuer, clock: opts.clock, logger: opts.logger,
      catchUpWindowMs: opts.catchUpWindowMs ?? CATCH_UP_WINDOW_MS, writeAheadMs: opts.writeAheadMs ?? WRITE_AHEAD_MS,
      retryDelayMs: opts.retryDelayMs ?? 1000,
      fence: { leaseValue, fencingToken: leadership.token },
      knownNames: this.knownNames,
      isValid: () => !leadership.signal.aborted && leadership.isValid(),
      onLag: (report) => {
        for (const listener of this.lagListeners) {
          try { listener(report); } catch { /* a listener's failure is its own */ }
        }
      },
      onStop: (reason, error) => {
        opts.logger.log('warn', 'schedule.fenced-off', `scheduling stopped: ${reason}`, { reason, term: leadership.token });
        opts.onFencedOff?.(reason, error);
        finish();
      },
    });
    const onAbort = () => {
      void run.stop(); // destroys every node-cron task at once, before anything else runs
      finish();
    };
    leadership.signal.addEventListener('abort', onAbort, { once: true });
    const unsubscribe = await this.subscribe(run);
    const poll = setInterval(() => void opts.store.rev().then((rev) => run.noteRevision(rev), () => undefined), opts.revPollMs ?? 5000);
    try {
      await Promise.race([run.start(), ended]);
      await ended;
    } finally {
      leadership.signal.removeEventListener('abort', onAbort);
      clearInterval(poll);
      // An enqueue stuck on a dead connection must not hold the caller; the fence in Redis covers it.
      await Promise.race([run.stop(), delay(opts.stopTimeoutMs ?? 2000)]);
      await Promise.race([unsubscribe?.(), delay(opts.stopTimeoutMs ?? 2000)]);
    }
  }

  private async subscribe(run: SchedulingRun): Promise<(() => Promise<void>) | undefined> {
    const { subscriber, store, logger } = this.opts;
    if (!subscriber) return undefined;
    try {
      return await store.subscribeChanges(subscriber, (change) => run.noteRevision(change.rev));
    } catch (err) {
      logger.log('warn', 'schedule.subscribe-failed', `no live schedule changes, polling only: ${(err as Error).message}`, {});
      return undefined;
    }
  }
}
