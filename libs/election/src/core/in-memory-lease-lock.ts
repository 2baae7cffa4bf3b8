import type { Clock } from '@lib/common';
import {
  holderValue,
  LeaseStatus,
  parseHolderValue,
  type AcquireResult,
  type LeaseFreedReason,
  type LeaseLock,
  type LeaseState,
} from './lease-lock';

interface Lease {
  value: string;
  expiresAtMs: number;
}

interface Info {
  nodeId: string;
  term: number;
  untilMs: number;
  /** heardAtMs: last acquire, renew or release by this leader. */
  heardAtMs: number;
}

/**
 * InMemoryLeaseStore is the shared "Redis" of InMemoryLeaseLocks: one lease,
 * one term counter, one leader-info record, expiring by `clock.nowMs()` (so
 * a fake clock drives it). For unit tests only; it is not shared between
 * processes.
 */
export class InMemoryLeaseStore {
  /** unavailable: when true every operation rejects, like an unreachable Redis. */
  unavailable = false;
  private lease: Lease | null = null;
  private term = 0;
  private info: Info | null = null;
  private readonly listeners = new Set<(reason: LeaseFreedReason) => void>();

  constructor(readonly clock: Clock) {}

  /** wipe forgets everything (a Redis restart without data); listeners stay. */
  wipe(): void {
    this.lease = null;
    this.term = 0;
    this.info = null;
  }

  /** currentTerm: the term counter, for assertions. */
  currentTerm(): number {
    return this.term;
  }

  /** @internal */
  run<T>(op: () => T): Promise<T> {
    if (this.unavailable) return Promise.reject(new Error('in-memory lease store unavailable'));
    return Promise.resolve().then(op);
  }

  /** @internal the live lease (an expired one reads as absent). */
  live(): Lease | null {
    if (this.lease && this.lease.expiresAtMs <= this.clock.nowMs()) this.lease = null;
    return this.lease;
  }

  /** @internal */
  acquire(nodeId: string, leaseMs: number, minToken: number): AcquireResult {
    const now = this.clock.nowMs();
    const held = this.live();
    if (held) {
      return { acquired: false, holder: parseHolderValue(held.value)!, ttlMs: held.expiresAtMs - now };
    }
    this.term = Math.max(this.term + 1, minToken + 1);
    const token = this.term;
    this.lease = { value: holderValue(token, nodeId), expiresAtMs: now + leaseMs };
    const prev = this.info;
    this.info = { nodeId, term: token, untilMs: now + leaseMs, heardAtMs: now };
    return {
      acquired: true,
      token,
      previousNodeId: prev?.nodeId ?? null,
      previousTerm: prev?.term ?? 0,
      leaderlessMs: prev ? Math.max(0, now - prev.untilMs) : 0,
      previousSilentMs: prev ? Math.max(0, now - prev.heardAtMs) : 0,
    };
  }

  /** @internal */
  compareAnd(value: string, apply: (lease: Lease, info: Info) => void): LeaseStatus {
    const held = this.live();
    if (!held) return LeaseStatus.Missing;
    if (held.value !== value) return LeaseStatus.Lost;
    apply(held, this.info!);
    return LeaseStatus.Ok;
  }

  /** @internal */
  drop(): void {
    this.lease = null;
    for (const listener of [...this.listeners]) listener('released');
  }

  /** @internal */
  state(): LeaseState | null {
    const held = this.live();
    return held ? { ...parseHolderValue(held.value)!, ttlMs: held.expiresAtMs - this.clock.nowMs() } : null;
  }

  /** @internal */
  listen(listener: (reason: LeaseFreedReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * InMemoryLeaseLock is a LeaseLock over an InMemoryLeaseStore, with the same
 * semantics as RedisLeaseLock (first writer wins, compare before renew and
 * release, tokens above `minToken`). Only releases wake listeners; expiry is
 * noticed when the follower's ttl sleep ends, as with a Redis that cannot
 * send keyspace events.
 */
export class InMemoryLeaseLock implements LeaseLock {
  constructor(
    private readonly store: InMemoryLeaseStore,
    readonly identity: string,
  ) {}

  tryAcquire(leaseMs: number, minToken: number): Promise<AcquireResult> {
    return this.store.run(() => this.store.acquire(this.identity, leaseMs, minToken));
  }

  renew(token: number, leaseMs: number): Promise<LeaseStatus> {
    return this.store.run(() =>
      this.store.compareAnd(holderValue(token, this.identity), (lease, info) => {
        lease.expiresAtMs = this.store.clock.nowMs() + leaseMs;
        info.untilMs = lease.expiresAtMs;
        info.heardAtMs = this.store.clock.nowMs();
      }),
    );
  }

  release(token: number): Promise<LeaseStatus> {
    return this.store.run(() => {
      const status = this.store.compareAnd(holderValue(token, this.identity), (_lease, info) => {
        info.untilMs = this.store.clock.nowMs();
        info.heardAtMs = info.untilMs;
      });
      if (status === LeaseStatus.Ok) this.store.drop();
      return status;
    });
  }

  get(): Promise<LeaseState | null> {
    return this.store.run(() => this.store.state());
  }

  onFreed(listener: (reason: LeaseFreedReason) => void): () => void {
    return this.store.listen(listener);
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}
