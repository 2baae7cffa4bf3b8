import type { Clock, EventLogger } from '@lib/common';
import type { LagReport } from '@lib/scheduling';
import { ConcurrencyGovernor } from '@lib/worker';

/** LeaderWorkerYieldOptions: see LeaderWorkerYield. */
export interface LeaderWorkerYieldOptions {
  /** worker: this node's worker. */
  worker: { limitConcurrency(limit: number): void };
  /** maxConcurrency: its configured concurrency. */
  maxConcurrency: number;
  /** lateMs: a report (LagReport) with a larger lag is a late instant (BATON_LEADER_YIELD_LAG_MS). */
  lateMs: number;
  /** quietMs: each time this passes without a late instant, the worker's limit doubles (default 5000). */
  quietMs?: number;
  /** peers: how many other live nodes there are (their workers take the jobs this one leaves). */
  peers(): Promise<number>;
  /** peersMaxAgeMs: how long a peers() answer is trusted (the heartbeat). */
  peersMaxAgeMs: number;
  clock: Clock;
  logger: EventLogger;
}

/**
 * LeaderWorkerYield protects the leader's scheduling from its own worker.
 * Both share one event loop (and the machine's cores): under a load the
 * workers cannot keep up with, the leader's worker fills the loop with jobs,
 * and each instant's ticks reach the queue seconds late (measured at 10,000
 * every-second schedules on 3 nodes: enqueue lag p50 1.5-3.4 s with the
 * leader's worker running, 83-91 ms with it paused). While it leads, every
 * instant's lag (LeaderScheduler.onLag: ticks written ahead later than
 * halfway through the write-ahead window, or reaching the queue after their
 * instant, or the catch-up later than the term's start) goes to a
 * ConcurrencyGovernor: a late instant cuts how many jobs the leader's worker
 * takes at once (by half, or to lateMs / lag of it when later; down to
 * none), and each `quietMs` without a late instant doubles it. It only
 * yields while other live nodes are there to run the jobs: a node alone
 * keeps its whole worker. A term starts at full concurrency and its end
 * restores it, unless the node is stopping (`stop`): a worker about to close
 * takes no more jobs than it was taking.
 */
export class LeaderWorkerYield {
  private readonly quietMs: number;
  private peerCount = 0;
  private peersAtMs = -Infinity;
  private peersReading?: Promise<void>;
  private stopping = false;

  constructor(private readonly opts: LeaderWorkerYieldOptions) {
    if (!(opts.lateMs > 0)) throw new TypeError(`LeaderWorkerYield: option lateMs must be > 0, got ${opts.lateMs}`);
    this.quietMs = opts.quietMs ?? 5000;
  }

  /**
   * follow governs the worker for one leadership term: `subscribe` registers
   * the listener for the term's lag reports and returns its removal. Ends
   * (full concurrency again) when `signal` aborts.
   */
  follow(signal: AbortSignal, subscribe: (listener: (report: LagReport) => void) => () => void): void {
    if (signal.aborted) return;
    const { clock, maxConcurrency } = this.opts;
    const governor = new ConcurrencyGovernor({ maxConcurrency, lateMs: this.opts.lateMs, quietMs: this.quietMs });
    let applied = maxConcurrency;
    let lastLate: LagReport | undefined;
    const lastLateAtMs = { ahead: -Infinity, ready: -Infinity };
    const apply = (limit: number) => {
      const effective = this.peerCount > 0 ? limit : maxConcurrency;
      if (effective === applied) return;
      this.log(applied, effective, lastLate);
      applied = effective;
      this.opts.worker.limitConcurrency(effective);
    };
    const unsubscribe = subscribe((report) => {
      if (signal.aborted || report.lagMs <= this.opts.lateMs) return; // on time: nothing to change
      // an instant written in several batches is reported per batch: it counts once (per kind)
      const kind = report.ahead ? 'ahead' : 'ready';
      if (report.atMs <= lastLateAtMs[kind]) return;
      lastLateAtMs[kind] = report.atMs;
      lastLate = report;
      const limit = governor.noteLag(report.lagMs, clock.nowMs());
      if (limit < maxConcurrency) void this.refreshPeers().then(() => !signal.aborted && apply(governor.limit));
      else apply(limit);
    });
    const timer = setInterval(() => apply(governor.noteTime(clock.nowMs())), Math.min(1000, this.quietMs));
    timer.unref();
    signal.addEventListener('abort', () => {
      unsubscribe();
      clearInterval(timer);
      if (!this.stopping) apply(maxConcurrency);
    }, { once: true });
  }

  /** stop: the node is stopping; a term that ends from now on leaves the worker's limit as it is. */
  stop(): void {
    this.stopping = true;
  }

  /** refreshPeers reads the live nodes when the last answer is older than peersMaxAgeMs (a failed read counts as none). */
  private refreshPeers(): Promise<void> {
    if (this.opts.clock.nowMs() - this.peersAtMs < this.opts.peersMaxAgeMs) return Promise.resolve();
    this.peersReading ??= this.opts.peers().then((n) => { this.peerCount = n; }, () => { this.peerCount = 0; }).finally(() => {
      this.peersAtMs = this.opts.clock.nowMs();
      this.peersReading = undefined;
    });
    return this.peersReading;
  }

  /** log: `worker.throttled` when the worker starts yielding, `worker.restored` when it has its full share again. */
  private log(from: number, to: number, late?: LagReport): void {
    const { logger, maxConcurrency, lateMs } = this.opts;
    if (from === maxConcurrency && to < maxConcurrency) {
      const what = late?.ahead ? 'were written ahead' : 'reached the queue';
      const lag = late ? `the ticks of ${new Date(late.atMs).toISOString()} ${what} ${late.lagMs} ms late` : 'ticks are late';
      logger.log('info', 'worker.throttled', `leading: this node's worker takes at most ${to} job(s) at once while ${lag} ` +
        `(over ${lateMs} ms); the other ${this.peerCount} node(s) run the rest`, {
        limit: to, maxConcurrency, lagMs: late?.lagMs, ahead: late?.ahead, scheduledFor: late ? new Date(late.atMs).toISOString() : undefined,
        peers: this.peerCount,
      });
    } else if (to === maxConcurrency && from < maxConcurrency) {
      logger.log('info', 'worker.restored', `this node's worker takes up to ${to} job(s) at once again`, { limit: to });
    }
  }
}
