import { silentLogger, systemClock, type Clock, type EventLogger } from '@lib/common';
import { ElectionConfigError, LeadershipEndedError } from './election.errors';
import { messages } from './election.messages';
import { validateElectionTimings } from './election-timings';
import { LeaseStatus, type LeaseAcquired, type LeaseHolder, type LeaseLock } from './lease-lock';
import type { LeaderElectorOptions, LeaderLostReason, Leadership, LeadershipEndReason } from './leader-elector.types';
import { ABORTED, untilAborted, Waker, withTimeout } from './wait';

interface Term {
  readonly leadership: Leadership;
  readonly controller: AbortController;
  /** renewedAtMs: monotonic send time of the last acquire/renew that succeeded. */
  renewedAtMs: number;
  /** attemptedAtMs: monotonic send time of the last acquire/renew, whatever its outcome. */
  attemptedAtMs: number;
  deadlineTimer?: ReturnType<typeof setTimeout>;
  /** lastError: message of the last failed renew, cleared by a success. */
  lastError?: string;
}

type AcquireOutcome = { kind: 'acquired' | 'error' | 'aborted' } | { kind: 'busy'; ttlMs: number };

const NEVER = new AbortController().signal;

/**
 * LeaderElector competes for the lease through a LeaseLock and runs the
 * application's leader work through callbacks (after kubernetes client-go's
 * leaderelection). The leader renews every retryPeriodMs and steps down on
 * its own monotonic clock once renewDeadlineMs passed since the *send time*
 * of its last successful renew, before the lease (leaseDurationMs, counted
 * by Redis from a later instant) can expire. Followers sleep until the lease
 * can have expired and wake at once when it is released.
 */
export class LeaderElector {
  private readonly lock: LeaseLock;
  private readonly clock: Clock;
  private readonly logger: EventLogger;
  private readonly random: () => number;
  private readonly waker = new Waker();
  private current: Term | null = null;
  private highest = 0;
  private knownLeader: LeaseHolder | null = null;
  private standBackUntilMs = 0;
  private backoffMs = 0;
  private running = false;

  constructor(private readonly options: LeaderElectorOptions) {
    if (!options?.lock) throw new ElectionConfigError('lock', messages.missing('lock', 'a LeaseLock'));
    validateElectionTimings(options);
    const cb = options.callbacks;
    if (typeof cb?.onStartedLeading !== 'function' || typeof cb.onStoppedLeading !== 'function') {
      throw new ElectionConfigError('callbacks', messages.missing('callbacks', 'onStartedLeading and onStoppedLeading'));
    }
    this.lock = options.lock;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.random = options.random ?? Math.random;
  }

  /** identity: this node's id (the lock's). */
  get identity(): string {
    return this.lock.identity;
  }

  /**
   * run competes for and holds leadership until `signal` aborts. On abort
   * while leading it aborts the leadership signal, calls onStoppedLeading
   * ('shutdown'), releases the lease (bounded by retryPeriodMs) and logs
   * leader.resigned; it resolves after that. One run() at a time.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.running) throw new Error(messages.alreadyRunning());
    this.running = true;
    const unsubscribe = this.lock.onFreed(() => this.waker.wake());
    // A term announced while this node slept still raises its highest token (minToken after a data loss).
    const unwatchElected = this.lock.onElected?.((holder) => this.observe(holder)) ?? (() => undefined);
    this.lock.start().catch(() => undefined);
    try {
      while (!signal.aborted) {
        if (this.current) await this.leadUntilLost(this.current, signal);
        else await this.followOnce(signal);
      }
    } finally {
      unsubscribe();
      unwatchElected();
      if (this.current) await this.stepDownGracefully(this.current, 'shutdown');
      this.running = false;
    }
  }

  /** tryAcquireOrRenew makes one attempt: renew while leading, else acquire. True when we lead afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    if (this.isLeader()) await this.renewOnce(this.current!);
    else await this.attemptAcquire(NEVER);
    return this.isLeader();
  }

  /**
   * isLeader is synchronous and safe right after a pause: it is false once
   * renewDeadlineMs passed since the last successful renew was sent, even if
   * no timer has run yet, and in that case it ends the leadership at once
   * (aborting its signal, calling onStoppedLeading), gives the lease back and
   * stands back one retry period so a healthier node can take over.
   */
  isLeader(): boolean {
    const term = this.current;
    if (!term) return false;
    if (this.clock.monotonicMs() - term.renewedAtMs < this.options.renewDeadlineMs) return true;
    this.loseLeadership(term, term.lastError ? 'redis-error' : 'renew-deadline');
    return false;
  }

  /** leadership is the current term ({token, signal, isValid}) while isLeader(), else null. */
  leadership(): Leadership | null {
    return this.isLeader() ? this.current!.leadership : null;
  }

  /** highestTokenSeen: the largest fencing token this node held or saw another node hold. */
  highestTokenSeen(): number {
    return this.highest;
  }

  /**
   * resign steps down now (signal aborted, onStoppedLeading('resigned'),
   * lease released, leader.resigned logged) and keeps this node out of the
   * competition for one retry period plus jitter, so another node takes
   * over. Resolves false when we were not the leader.
   */
  async resign(): Promise<boolean> {
    const term = this.current;
    if (!term || !this.isLeader()) return false;
    this.standBack();
    await this.stepDownGracefully(term, 'resigned');
    return true;
  }

  // --- follower -------------------------------------------------------------

  private async followOnce(signal: AbortSignal): Promise<void> {
    // 1. after resign(): stay out, and let no release broadcast wake us
    const standBackMs = this.standBackUntilMs - this.clock.monotonicMs();
    if (standBackMs > 0) return this.waker.sleep(standBackMs, signal, false);
    // 2. one attempt; a release seen from now on cuts the next sleep short
    this.waker.reset();
    const outcome = await this.attemptAcquire(signal);
    // 3. sleep until the lease can have expired, or back off while Redis fails
    if (outcome.kind === 'busy') {
      this.backoffMs = 0;
      const ttlMs = outcome.ttlMs > 0 ? outcome.ttlMs : this.options.retryPeriodMs;
      // When the lock pushes expiry and deletion to us, waking at the ttl would only find the lease renewed:
      // look again one lease later (half an idle follower's election commands); a lost notification costs one lease.
      const safetyNetMs = this.lock.pushesExpiry?.() ? this.options.leaseDurationMs : 0;
      await this.waker.sleep(ttlMs + safetyNetMs + this.jitterMs(), signal);
    } else if (outcome.kind === 'error') {
      await this.waker.sleep(this.backoffMs * (0.5 + this.random() / 2), signal);
    }
  }

  private async attemptAcquire(signal: AbortSignal): Promise<AcquireOutcome> {
    const sentAtMs = this.clock.monotonicMs();
    const pending = this.lock.tryAcquire(this.options.leaseDurationMs, this.highest);
    let result;
    try {
      result = await untilAborted(pending, signal);
    } catch (err) {
      this.noteAcquireError(err);
      return { kind: 'error' };
    }
    this.backoffMs = 0;
    if (result === ABORTED) {
      // shutting down: if that attempt still wins, give the lease straight back
      pending.then((r) => (r.acquired ? this.lock.release(r.token) : undefined)).catch(() => undefined);
      return { kind: 'aborted' };
    }
    if (result.acquired) {
      this.becomeLeader(result, sentAtMs);
      return { kind: 'acquired' };
    }
    this.observe(result.holder);
    return { kind: 'busy', ttlMs: result.ttlMs };
  }

  private noteAcquireError(err: unknown): void {
    const { retryPeriodMs } = this.options;
    const first = this.backoffMs === 0;
    this.backoffMs = Math.min(retryPeriodMs, Math.max(retryPeriodMs / 8, this.backoffMs * 2));
    this.logger.log(first ? 'warn' : 'debug', 'election.redis-error',
      messages.acquireFailed(this.identity, errorText(err), this.backoffMs), { error: errorText(err) });
  }

  private observe(holder: LeaseHolder): void {
    this.highest = Math.max(this.highest, holder.token);
    if (this.knownLeader?.token === holder.token && this.knownLeader.nodeId === holder.nodeId) return;
    this.knownLeader = holder;
    if (holder.nodeId === this.identity) return;
    this.logger.log('info', 'leader.changed', messages.changed(this.identity, holder.nodeId, holder.token), {
      leader: holder.nodeId,
      term: holder.token,
    });
    this.safeCall('onNewLeader', () => this.options.callbacks.onNewLeader?.(holder));
  }

  // --- leader ---------------------------------------------------------------

  private becomeLeader(won: LeaseAcquired, sentAtMs: number): void {
    this.highest = Math.max(this.highest, won.token);
    this.knownLeader = { nodeId: this.identity, token: won.token };
    if (this.clock.monotonicMs() - sentAtMs >= this.options.renewDeadlineMs) {
      // the answer came too late to act on safely: hand the lease back
      this.lock.release(won.token).catch(() => undefined);
      return;
    }
    const controller = new AbortController();
    const leadership: Leadership = {
      token: won.token,
      signal: controller.signal,
      isValid: () => this.current?.leadership === leadership && this.isLeader(),
    };
    const term: Term = { leadership, controller, renewedAtMs: sentAtMs, attemptedAtMs: sentAtMs };
    this.current = term;
    this.armDeadline(term);
    this.logger.log('info', 'leader.elected',
      messages.elected(this.identity, won.token, won.previousNodeId, won.previousTerm, won.previousSilentMs),
      { term: won.token, previousLeader: won.previousNodeId, previousTerm: won.previousTerm,
        leaderlessMs: won.leaderlessMs, previousLeaderSilentMs: won.previousSilentMs });
    this.safeCall('onStartedLeading', () => this.options.callbacks.onStartedLeading(leadership));
  }

  private async leadUntilLost(term: Term, signal: AbortSignal): Promise<void> {
    const stop = AbortSignal.any([signal, term.controller.signal]);
    while (!stop.aborted) {
      const { retryPeriodMs } = this.options;
      // Renews are paced from send to send: a slow Redis must not stretch the period by its round trip.
      const waitMs = term.lastError
        ? (retryPeriodMs / 4) * (0.5 + this.random())
        : Math.max(0, term.attemptedAtMs + retryPeriodMs - this.clock.monotonicMs());
      await this.waker.sleep(waitMs, stop, false);
      if (stop.aborted || !this.isLeader()) return;
      await this.renewOnce(term);
    }
  }

  private async renewOnce(term: Term): Promise<void> {
    const sentAtMs = this.clock.monotonicMs();
    term.attemptedAtMs = sentAtMs;
    let status;
    try {
      status = await untilAborted(this.lock.renew(term.leadership.token, this.options.leaseDurationMs), term.controller.signal);
    } catch (err) {
      term.lastError = errorText(err);
      const leftMs = term.renewedAtMs + this.options.renewDeadlineMs - this.clock.monotonicMs();
      this.logger.log('warn', 'leader.renew-failed', messages.renewFailed(this.identity, term.leadership.token, term.lastError, leftMs),
        { term: term.leadership.token, error: term.lastError });
      return;
    }
    if (status === ABORTED || this.current !== term) return;
    if (status === LeaseStatus.Ok) {
      term.lastError = undefined;
      term.renewedAtMs = Math.max(term.renewedAtMs, sentAtMs);
      this.armDeadline(term);
    } else {
      this.loseLeadership(term, status === LeaseStatus.Lost ? 'lease-taken' : 'lease-missing');
    }
  }

  private armDeadline(term: Term): void {
    clearTimeout(term.deadlineTimer);
    const leftMs = term.renewedAtMs + this.options.renewDeadlineMs - this.clock.monotonicMs();
    term.deadlineTimer = setTimeout(() => {
      if (this.current === term && this.isLeader()) this.armDeadline(term);
    }, Math.max(0, leftMs));
    term.deadlineTimer.unref?.();
  }

  private loseLeadership(term: Term, reason: LeaderLostReason): void {
    if (this.current !== term) return;
    const token = term.leadership.token;
    this.endTerm(term, reason, () =>
      this.logger.log('warn', 'leader.lost', messages.lost(this.identity, token, reason, this.options.renewDeadlineMs), {
        term: token,
        reason,
      }),
    );
    if (reason === 'renew-deadline' || reason === 'redis-error') {
      // The lease may still be ours: give it back so a healthier node need not wait for expiry, and let it go first.
      this.standBack();
      this.lock.release(token).catch(() => undefined);
    }
  }

  private async stepDownGracefully(term: Term, reason: 'resigned' | 'shutdown'): Promise<void> {
    const token = term.leadership.token;
    this.endTerm(term, reason);
    const released = await withTimeout(this.lock.release(token), this.options.retryPeriodMs, 'lease release')
      .then((status) => status === LeaseStatus.Ok, () => false);
    this.logger.log('info', 'leader.resigned', messages.resigned(this.identity, token, released), { term: token, released });
  }

  /** endTerm: 1. nobody may act any more, 2. the signal aborts, 3. log, 4. the application hears of it. */
  private endTerm(term: Term, reason: LeadershipEndReason, log?: () => void): void {
    this.current = null;
    clearTimeout(term.deadlineTimer);
    term.controller.abort(new LeadershipEndedError(term.leadership.token, reason));
    log?.();
    this.safeCall('onStoppedLeading', () => this.options.callbacks.onStoppedLeading(reason));
  }

  // --- helpers --------------------------------------------------------------

  /** standBack keeps this node out of the competition for one retry period plus jitter. */
  private standBack(): void {
    const { retryPeriodMs } = this.options;
    this.standBackUntilMs = this.clock.monotonicMs() + retryPeriodMs * (1 + this.random() / 2);
  }

  private jitterMs(): number {
    return this.random() * Math.max(1, Math.min(50, this.options.retryPeriodMs / 10));
  }

  private safeCall(name: string, fn: () => unknown): void {
    const report = (err: unknown) =>
      this.logger.log('error', 'election.callback-failed', messages.callbackFailed(name, errorText(err)), { callback: name });
    try {
      const result = fn();
      if (result instanceof Promise) result.catch(report);
    } catch (err) {
      report(err);
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
