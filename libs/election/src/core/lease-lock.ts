/**
 * LeaseStatus maps the integer replies of the renew and release scripts.
 * Negative codes are failures; the caller never holds the lease after one.
 */
export enum LeaseStatus {
  /** Ok: the caller held the lease and the operation was applied. */
  Ok = 1,
  /** Lost: someone else holds the lease now. */
  Lost = -1,
  /** Missing: nobody holds the lease (it expired, or Redis lost its data). */
  Missing = -2,
}

/** LeaseHolder: who holds the lease, with its fencing token. */
export interface LeaseHolder {
  nodeId: string;
  token: number;
}

/** LeaseAcquired: tryAcquire won; `token` is greater than every earlier one the store and the caller know. */
export interface LeaseAcquired {
  acquired: true;
  token: number;
  /** previousNodeId: node of the last leadership recorded, or null for the first. */
  previousNodeId: string | null;
  /** previousTerm: token of that leadership, 0 if none. */
  previousTerm: number;
  /** leaderlessMs: time between the previous lease's end and this one's start (store clock), 0 if none. */
  leaderlessMs: number;
  /**
   * previousSilentMs: time since the previous leader last renewed or released
   * (store clock), 0 if none. After a crash this is how long the cluster
   * really went without a working leader; leaderlessMs only counts the part
   * after its lease ran out.
   */
  previousSilentMs: number;
}

/** LeaseBusy: tryAcquire lost; somebody holds the lease for another `ttlMs`. */
export interface LeaseBusy {
  acquired: false;
  holder: LeaseHolder;
  /** ttlMs: remaining lease time in ms (as the store sees it; -1 if it has no expiry). */
  ttlMs: number;
}

/** AcquireResult: outcome of one LeaseLock.tryAcquire. */
export type AcquireResult = LeaseAcquired | LeaseBusy;

/** LeaseState: the lease as read by LeaseLock.get(). */
export interface LeaseState extends LeaseHolder {
  /** ttlMs: remaining lease time in ms. */
  ttlMs: number;
}

/**
 * LeaseFreedReason: why a lease went away (release broadcast, expiry,
 * deletion), or `lapsed`: no renewal was seen for a whole lease, so it has
 * run out whether or not Redis has expired the key yet.
 */
export type LeaseFreedReason = 'released' | 'expired' | 'deleted' | 'lapsed';

/**
 * LeaseLock is the storage seam of the election: one lease, compared by the
 * holder value `<token>:<identity>` before every change. The elector never
 * talks to Redis except through it. Implementations: RedisLeaseLock (Lua) and
 * InMemoryLeaseLock (unit tests).
 */
export interface LeaseLock {
  /** identity: this node's id, written into the lease. */
  readonly identity: string;
  /** tryAcquire: one attempt to take a free lease for `leaseMs`, with a token above `minToken`. */
  tryAcquire(leaseMs: number, minToken: number): Promise<AcquireResult>;
  /** renew: extend our lease (token `token`) to `leaseMs` from now, only if we still hold it. */
  renew(token: number, leaseMs: number): Promise<LeaseStatus>;
  /** release: drop our lease (token `token`) and wake the followers, only if we still hold it. */
  release(token: number): Promise<LeaseStatus>;
  /** get: the current holder and its remaining time, or null when nobody holds the lease. */
  get(): Promise<LeaseState | null>;
  /**
   * onFreed registers `listener` to run whenever the lease may have become free
   * (released, expired, deleted, lapsed). Best effort: a missed wake-up only delays a
   * follower until the lease's ttl ran out. Returns the unsubscribe function.
   */
  onFreed(listener: (reason: LeaseFreedReason) => void): () => void;
  /**
   * onElected (optional) registers `listener` for every new term another
   * node (or this one) wins, as announced, so followers know the highest
   * token without polling. Best effort. Returns the unsubscribe function.
   */
  onElected?(listener: (holder: LeaseHolder) => void): () => void;
  /**
   * pushesExpiry (optional): true while an expiry of the lease reaches
   * onFreed listeners by itself (not only a release). Followers then poll
   * less often: the poll is only a safety net for a lost notification.
   */
  pushesExpiry?(): boolean;
  /** start: begin listening for wake-ups (idempotent; failures only slow failover). */
  start(): Promise<void>;
  /** close: stop listening; does not close connections the caller owns. */
  close(): Promise<void>;
}

/** holderValue is the string stored in the lease: `<token>:<nodeId>`. */
export function holderValue(token: number, nodeId: string): string {
  return `${token}:${nodeId}`;
}

/** parseHolderValue splits `<token>:<nodeId>` (the node id may contain ':'); null if malformed. */
export function parseHolderValue(value: string): LeaseHolder | null {
  const i = value.indexOf(':');
  const token = Number(value.slice(0, i));
  if (i <= 0 || !Number.isSafeInteger(token)) return null;
  return { token, nodeId: value.slice(i + 1) };
}
