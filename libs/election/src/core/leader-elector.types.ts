import type { Clock, EventLogger } from '@lib/common';
import type { ElectionTimings } from './election-timings';
import type { LeaseHolder, LeaseLock } from './lease-lock';

/**
 * Leadership is one term of being the leader. All leader work must stop when
 * `signal` aborts; `isValid()` is the synchronous check to make right before
 * acting (it is false once the renew deadline passed on the monotonic clock,
 * even if no timer has run yet, e.g. right after SIGCONT).
 */
export interface Leadership {
  /** token: the fencing token (term) of this leadership; strictly greater than every earlier one. */
  readonly token: number;
  /** signal: aborts the moment this leadership ends, for any reason. */
  readonly signal: AbortSignal;
  /** isValid: true while this leadership lasts; checking it ends an overdue leadership at once. */
  isValid(): boolean;
}

/** LeaderLostReason: why a leadership ended without the node asking for it. */
export type LeaderLostReason = 'renew-deadline' | 'lease-taken' | 'lease-missing' | 'redis-error';

/** LeadershipEndReason: every way a leadership ends (`resigned`: resign(); `shutdown`: run()'s signal aborted). */
export type LeadershipEndReason = LeaderLostReason | 'resigned' | 'shutdown';

/**
 * LeaderCallbacks: what the elector tells the application. Callbacks run
 * synchronously inside the elector; a throw (or rejected promise) is logged
 * and otherwise ignored, and a returned promise is not awaited.
 */
export interface LeaderCallbacks {
  /** onStartedLeading: we lead with `leadership.token`; start leader work and stop it when its signal aborts. */
  onStartedLeading(leadership: Leadership): void | Promise<void>;
  /** onStoppedLeading: called once for every leadership that ended, right after its signal aborted. */
  onStoppedLeading(reason: LeadershipEndReason): void | Promise<void>;
  /** onNewLeader: a follower saw a different node holding the lease. */
  onNewLeader?(leader: LeaseHolder): void;
}

/** LeaderElectorOptions: `leaseDurationMs > renewDeadlineMs > retryPeriodMs > 0` (see deriveElectionTimings). */
export interface LeaderElectorOptions extends ElectionTimings {
  /** lock: where the lease lives (RedisLeaseLock, or InMemoryLeaseLock in tests). */
  lock: LeaseLock;
  /** callbacks: leadership notifications. */
  callbacks: LeaderCallbacks;
  /** clock: default systemClock; deadlines use its monotonicMs. */
  clock?: Clock;
  /** logger: default silentLogger; receives leader.elected/lost/resigned/changed. */
  logger?: EventLogger;
  /** random: source of jitter in [0, 1); default Math.random. */
  random?: () => number;
}
