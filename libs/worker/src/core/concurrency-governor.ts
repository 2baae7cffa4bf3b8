import { workerMessages } from './worker.messages';

/** ConcurrencyGovernorOptions: see ConcurrencyGovernor. */
export interface ConcurrencyGovernorOptions {
  /** maxConcurrency: the worker's configured concurrency: the limit when nothing is late. */
  maxConcurrency: number;
  /** lateMs: a reported lag above this is late. */
  lateMs: number;
  /** quietMs: each time this passes without a late report, the limit doubles (up to maxConcurrency). */
  quietMs: number;
}

/**
 * ConcurrencyGovernor decides how many jobs a worker may run at once while
 * something more urgent in the same process reports how late it is (the
 * leader's scheduling: the lag of each instant's ticks reaching the queue).
 * A late report cuts the limit to lateMs / lag of it, at least by half (at
 * 10 × lateMs to a tenth; down to 0: take no job); each `quietMs` without a
 * late report doubles it again (from 0 to 1), up to the maximum.
 * On-time reports alone change nothing: right after the worker yielded they
 * are on time because it yielded (measured: giving one job back per on-time
 * instant kept the leader's worker busy and its ticks seconds late). Plain
 * arithmetic on the times it is given; the caller applies the limit.
 */
export class ConcurrencyGovernor {
  private readonly opts: ConcurrencyGovernorOptions;
  private current: number;
  /** lastChangeMs: the last late report, or the last step up. */
  private lastChangeMs = -Infinity;

  constructor(options: ConcurrencyGovernorOptions) {
    const o = options ?? ({} as ConcurrencyGovernorOptions);
    if (!Number.isInteger(o.maxConcurrency) || o.maxConcurrency < 1) {
      throw new TypeError(workerMessages.badOption('maxConcurrency', `must be a positive integer, got ${o.maxConcurrency}`));
    }
    for (const field of ['lateMs', 'quietMs'] as const) {
      if (!(Number.isFinite(o[field]) && o[field] > 0)) throw new TypeError(workerMessages.badOption(field, `must be a positive number, got ${o[field]}`));
    }
    this.opts = { ...o };
    this.current = o.maxConcurrency;
  }

  /** limit: jobs the worker may run at once now (0: take none). */
  get limit(): number {
    return this.current;
  }

  /** noteLag takes one report (lag `lagMs`, seen at `nowMs`) and returns the new limit: cut when late. */
  noteLag(lagMs: number, nowMs: number): number {
    if (lagMs > this.opts.lateMs) {
      this.current = Math.floor(this.current * Math.min(0.5, this.opts.lateMs / lagMs));
      this.lastChangeMs = nowMs;
    }
    return this.current;
  }

  /** noteTime returns the limit at `nowMs`: doubled (0 to 1) once the last change is quietMs old. */
  noteTime(nowMs: number): number {
    if (this.current < this.opts.maxConcurrency && nowMs - this.lastChangeMs >= this.opts.quietMs) {
      this.current = Math.min(this.opts.maxConcurrency, Math.max(1, this.current * 2));
      this.lastChangeMs = nowMs;
    }
    return this.current;
  }
}
