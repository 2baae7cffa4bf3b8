import { batonKeys, type BatonKeys } from '@lib/common';
import type { Redis } from 'ioredis';
import {
  holderValue,
  parseHolderValue,
  type AcquireResult,
  type LeaseFreedReason,
  type LeaseLock,
  type LeaseState,
  type LeaseHolder,
  type LeaseStatus,
} from './lease-lock';
import { electionCommands, type ElectionCommands } from './redis-commands';

/** RedisLeaseLockOptions: connections, key prefix and node id of a RedisLeaseLock. */
export interface RedisLeaseLockOptions {
  /** redis: a normal client for commands (never put into subscriber mode). */
  redis: Redis;
  /** subscriber: a second client this lock may put into subscriber mode; optional (no wake-ups without it). */
  subscriber?: Redis;
  /** prefix: deployment namespace (`baton` → keys `{baton}:leader`, ...). */
  prefix: string;
  /** identity: this node's id; must not be empty. */
  identity: string;
}

/** ELECTED: prefix of the election channel's new-term announcements (acquireLease-4.lua); a release sends the bare lease value. */
const ELECTED = 'elected:';

const WAKE_EVENTS: Record<string, LeaseFreedReason> = { del: 'deleted', expired: 'expired' };

/** RENEWED: the keyspace event of a PEXPIRE; renewals are broadcast (renewLease-3.lua), but a Redis whose flags include `g` also sends this. */
const RENEWED = 'expire';

/** LAPSE_MARGIN_MS: how long past a lease's end, as seen here, `lapsed` is told (Redis must find the key expired by then). */
const LAPSE_MARGIN_MS = 2;

/**
 * RedisLeaseLock keeps the lease in Redis through the Lua scripts of src/lua.
 * `start()` subscribes the `subscriber` client to the election channel (new
 * terms, releases), the renewal channel and the keyspace channel of the
 * leader key (`expired`), after trying to add the `Kx` flags to
 * `notify-keyspace-events` (errors ignored: managed Redis often forbids
 * CONFIG; followers then wake when the ttl runs out, and `pushesExpiry()`
 * says false so they keep polling once per lease). Only `x`: the generic
 * class `g` would make every DEL and every SET with an expiry in the whole
 * Redis publish an event (three per job: its lock set and deleted, its hash
 * deleted), which costs Redis ~0.7 µs each; renewals and releases are
 * broadcast by their scripts instead. A `del` is still a wake-up where
 * something else turned `g` on.
 *
 * Redis sends `expired` only when it gets round to expiring the key: its
 * active expiry runs `hz` times a second (10 by default), so that wake-up
 * comes up to ~100 ms after the lease ran out. So the lock also watches the
 * lease's life: each new term (its announcement) and each renewal (its
 * broadcast) starts it anew, and when a whole lease (the `leaseMs` this node
 * last asked to acquire with: the cluster's, as far as it knows) passes
 * without one, listeners hear `lapsed`, and an acquire then finds the key
 * expired (Redis checks a key's expiry when it is read). This needs no
 * keyspace events. A node configured with a shorter lease than the leader's
 * only tries too early once and falls back to the `expired` wake-up (or to
 * its poll).
 * `close()` unsubscribes; the caller still owns and closes both clients.
 */
export class RedisLeaseLock implements LeaseLock {
  readonly identity: string;
  private readonly redis: Redis & ElectionCommands;
  private readonly subscriber?: Redis;
  private readonly keys: BatonKeys;
  private readonly keyspaceChannel: string;
  private readonly listeners = new Set<(reason: LeaseFreedReason) => void>();
  private readonly electedListeners = new Set<(holder: LeaseHolder) => void>();
  private started: Promise<void> | null = null;
  /** keyspaceEventsOn: the last CONFIG GET/SET showed notify-keyspace-events covering the lease's expired event. */
  private keyspaceEventsOn = false;
  /** subscribed: the SUBSCRIBE of start() was answered (and close() not called since). */
  private subscribed = false;
  /** leaseMs: the lease this node last asked to acquire with (0: none yet; no lapse is predicted). */
  private leaseMs = 0;
  /** lapse: when (performance.now()) the lease runs out unless renewed, and the timer that tells `lapsed` then. */
  private lapse?: { atMs: number; timer: NodeJS.Timeout };

  constructor(options: RedisLeaseLockOptions) {
    if (!options?.redis) throw new TypeError('RedisLeaseLock: `redis` (an ioredis client) is required');
    if (typeof options.prefix !== 'string' || options.prefix === '') {
      throw new TypeError('RedisLeaseLock: `prefix` must be a non-empty string');
    }
    if (typeof options.identity !== 'string' || options.identity === '') {
      throw new TypeError('RedisLeaseLock: `identity` must be a non-empty string');
    }
    this.identity = options.identity;
    this.redis = electionCommands(options.redis);
    this.subscriber = options.subscriber;
    this.keys = batonKeys(options.prefix);
    const db = options.redis.options.db ?? 0;
    this.keyspaceChannel = `__keyspace@${db}__:${this.keys.leader}`;
  }

  async tryAcquire(leaseMs: number, minToken: number): Promise<AcquireResult> {
    this.leaseMs = leaseMs;
    const k = this.keys;
    const reply = await this.redis.acquireLease(k.leader, k.term, k.leaderInfo, k.electionChannel, this.identity, leaseMs, minToken);
    if (reply[0] === -1) {
      const holder = parseHolderValue(String(reply[2]));
      if (!holder) throw new Error(`lease key ${k.leader} holds a malformed value: ${String(reply[2])}`);
      return { acquired: false, holder, ttlMs: Number(reply[1]) };
    }
    return {
      acquired: true,
      token: Number(reply[0]),
      previousTerm: Number(reply[1]),
      previousNodeId: reply[2] ?? null,
      leaderlessMs: Number(reply[3] ?? 0),
      previousSilentMs: Number(reply[4] ?? reply[3] ?? 0),
    };
  }

  async renew(token: number, leaseMs: number): Promise<LeaseStatus> {
    const k = this.keys;
    const value = holderValue(token, this.identity);
    return (await this.redis.renewLease(k.leader, k.leaderInfo, k.renewalChannel, value, leaseMs)) as LeaseStatus;
  }

  async release(token: number): Promise<LeaseStatus> {
    const k = this.keys;
    const value = holderValue(token, this.identity);
    return (await this.redis.releaseLease(k.leader, k.leaderInfo, k.electionChannel, value)) as LeaseStatus;
  }

  async get(): Promise<LeaseState | null> {
    const [[err1, value], [err2, ttl]] = (await this.redis.multi().get(this.keys.leader).pttl(this.keys.leader).exec())!;
    if (err1 || err2) throw err1 ?? err2;
    const holder = typeof value === 'string' ? parseHolderValue(value) : null;
    return holder ? { ...holder, ttlMs: Number(ttl) } : null;
  }

  onFreed(listener: (reason: LeaseFreedReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onElected(listener: (holder: LeaseHolder) => void): () => void {
    this.electedListeners.add(listener);
    return () => this.electedListeners.delete(listener);
  }

  /** pushesExpiry: keyspace events are on and the subscriber is connected (so `expired` wakes followers). */
  pushesExpiry(): boolean {
    return this.keyspaceEventsOn && this.subscribed && this.subscriber?.status === 'ready';
  }

  start(): Promise<void> {
    if (!this.subscriber) return Promise.resolve();
    this.started ??= this.subscribe(this.subscriber);
    return this.started;
  }

  async close(): Promise<void> {
    const sub = this.subscriber;
    if (!sub || !this.started) return;
    this.started = null;
    this.subscribed = false;
    this.forgetLapse();
    sub.off('message', this.onMessage);
    this.redis.off('ready', this.ensureKeyspaceEvents);
    this.redis.off('close', this.forgetKeyspaceEvents);
    if (sub.status === 'ready') {
      await sub.unsubscribe(this.keys.electionChannel, this.keys.renewalChannel, this.keyspaceChannel).catch(() => undefined);
    }
  }

  private async subscribe(sub: Redis): Promise<void> {
    sub.on('message', this.onMessage);
    // Redis forgets CONFIG SET on restart: ask again on every reconnect.
    this.redis.on('ready', this.ensureKeyspaceEvents);
    this.redis.on('close', this.forgetKeyspaceEvents); // a restarted Redis has forgotten them until ensured again
    await this.ensureKeyspaceEvents();
    await sub.subscribe(this.keys.electionChannel, this.keys.renewalChannel, this.keyspaceChannel);
    this.subscribed = this.started !== null;
  }

  private readonly onMessage = (channel: string, message: string): void => {
    let reason: LeaseFreedReason | undefined;
    if (channel === this.keys.electionChannel && message.startsWith(ELECTED)) {
      this.expectLapse();
      const holder = parseHolderValue(message.slice(ELECTED.length));
      if (holder) for (const listener of [...this.electedListeners]) listener(holder);
      return;
    }
    if (channel === this.keys.renewalChannel || (channel === this.keyspaceChannel && message === RENEWED)) return this.expectLapse();
    if (channel === this.keys.electionChannel) reason = 'released';
    else if (channel === this.keyspaceChannel) reason = WAKE_EVENTS[message];
    if (!reason) return;
    this.forgetLapse();
    this.tell(reason);
  };

  private tell(reason: LeaseFreedReason): void {
    for (const listener of [...this.listeners]) listener(reason);
  }

  /** expectLapse: the lease was just set or renewed; tell `lapsed` a lease (plus a margin) from now unless it is renewed again. */
  private expectLapse(): void {
    if (this.leaseMs <= 0) return; // no lease asked for yet: its length is unknown
    const atMs = performance.now() + this.leaseMs + LAPSE_MARGIN_MS;
    if (this.lapse) this.lapse.atMs = atMs; // its timer looks again when it fires
    else this.lapse = { atMs, timer: this.lapseTimer(atMs) };
  }

  private lapseTimer(atMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const lapse = this.lapse;
      if (!lapse) return;
      const leftMs = lapse.atMs - performance.now();
      if (leftMs > 0) { // renewed since, or the timer fired a little early
        lapse.timer = this.lapseTimer(lapse.atMs);
        return;
      }
      this.lapse = undefined;
      this.tell('lapsed');
    }, Math.max(0, Math.ceil(atMs - performance.now())));
    timer.unref();
    return timer;
  }

  private forgetLapse(): void {
    if (this.lapse) clearTimeout(this.lapse.timer);
    this.lapse = undefined;
  }

  private readonly forgetKeyspaceEvents = (): void => {
    this.keyspaceEventsOn = false;
  };

  /** ensureKeyspaceEvents adds K and x to notify-keyspace-events, keeping the flags already set. */
  private readonly ensureKeyspaceEvents = async (): Promise<void> => {
    try {
      const reply = (await this.redis.config('GET', 'notify-keyspace-events')) as unknown;
      const current = Array.isArray(reply) ? String(reply[1] ?? '') : String(Object.values(reply ?? {})[0] ?? '');
      const wanted = mergeKeyspaceFlags(current);
      if (wanted !== current) await this.redis.config('SET', 'notify-keyspace-events', wanted);
      this.keyspaceEventsOn = true;
    } catch {
      this.keyspaceEventsOn = false;
      // managed Redis forbids CONFIG; wake-ups then come from release broadcasts and ttl sleeps
    }
  };
}

/** mergeKeyspaceFlags returns `current` plus whatever of K and x it lacks (`A` already covers x). */
export function mergeKeyspaceFlags(current: string): string {
  let flags = current;
  if (!flags.includes('K')) flags += 'K';
  if (!flags.includes('A') && !flags.includes('x')) flags += 'x';
  return flags;
}
