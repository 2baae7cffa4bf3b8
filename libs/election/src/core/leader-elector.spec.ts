import type { Clock } from '@lib/common';
import { ElectionConfigError } from './election.errors';
import { createTestNode, type TestNode } from './election-test-kit';
import { InMemoryLeaseLock, InMemoryLeaseStore } from './in-memory-lease-lock';
import { LeaderElector } from './leader-elector';
import { LeaseStatus } from './lease-lock';

// Time: jest's fake Date drives both clocks; `pausedMs` moves them without
// running any timer, which is what a SIGSTOP'd process sees after SIGCONT.
let pausedMs = 0;
const clock: Clock = { nowMs: () => Date.now() + pausedMs, monotonicMs: () => Date.now() + pausedMs };
const advance = (ms: number) => jest.advanceTimersByTimeAsync(ms);

describe('LeaderElector (in-memory lease, fake clock)', () => {
  let store: InMemoryLeaseStore;
  let nodes: TestNode[];
  const node = (identity: string, overrides = {}) => {
    const n = createTestNode({ store, identity }, clock, overrides);
    nodes.push(n);
    return n;
  };

  beforeEach(() => {
    jest.useFakeTimers();
    pausedMs = 0;
    store = new InMemoryLeaseStore(clock);
    nodes = [];
  });
  afterEach(async () => {
    store.unavailable = false;
    const stopping = Promise.all(nodes.map((n) => n.stop()));
    await advance(1000);
    await stopping;
    jest.useRealTimers();
  });

  it('paces renewals from send to send, so a slow store (250 ms round trips) does not cost the leadership', async () => {
    const slow = new InMemoryLeaseLock(store, 'slow');
    const renew = slow.renew.bind(slow);
    slow.renew = (token, leaseMs) => new Promise((resolve) => setTimeout(() => resolve(renew(token, leaseMs)), 250));
    const a = createTestNode({ lock: slow }, clock);
    nodes.push(a);
    a.start();
    await advance(0);
    expect(a.elector.isLeader()).toBe(true);
    await advance(5000);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.logger.named('leader.lost')).toEqual([]);
  });

  it('acquires a free lease at once and hands the token to onStartedLeading', async () => {
    const a = node('a');
    a.start();
    await advance(0);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.calls).toEqual(['started:1']);
    expect(a.elector.leadership()?.token).toBe(1);
    expect(a.logger.named('leader.elected')[0].facts).toEqual({ term: 1, previousLeader: null, previousTerm: 0, leaderlessMs: 0, previousLeaderSilentMs: 0 });
  });

  it('renews every retry period and keeps leading far beyond one lease', async () => {
    const a = node('a');
    const renew = jest.spyOn(a.lock, 'renew');
    a.start();
    await advance(5000);
    expect(a.elector.isLeader()).toBe(true);
    expect(renew.mock.calls.length).toBeGreaterThanOrEqual(19);
    expect(renew.mock.calls.length).toBeLessThanOrEqual(21);
    expect((await a.lock.get())?.ttlMs).toBeGreaterThan(700);
  });

  it('lets exactly one of several nodes lead, and followers learn the leader without spinning', async () => {
    const [a, b, c] = [node('a'), node('b'), node('c')];
    const acquireB = jest.spyOn(b.lock, 'tryAcquire');
    [a, b, c].forEach((n) => n.start());
    await advance(5000);
    expect([a, b, c].filter((n) => n.elector.isLeader()).map((n) => n.lock.identity)).toEqual(['a']);
    expect(b.calls).toEqual(['new:a:1']);
    expect(b.logger.named('leader.changed')[0].facts).toEqual({ leader: 'a', term: 1 });
    expect(b.elector.highestTokenSeen()).toBe(1);
    // one attempt per remaining lease time (~750 ms), not a tight loop
    expect(acquireB.mock.calls.length).toBeLessThanOrEqual(8);
  });

  it('stops leading synchronously once the renew deadline passed, even if no timer ran', async () => {
    const a = node('a');
    a.start();
    await advance(0);
    const leadership = a.elector.leadership()!;
    pausedMs += 700; // process paused past renewDeadlineMs (600), no timer has fired
    expect(leadership.isValid()).toBe(false);
    expect(leadership.signal.aborted).toBe(true);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.calls).toEqual(['started:1', 'stopped:renew-deadline']);
    expect(a.logger.named('leader.lost')[0].facts).toEqual({ term: 1, reason: 'renew-deadline' });
  });

  it('after overrunning its deadline it gives the lease back and lets a healthy follower lead first', async () => {
    const [a, b] = [node('a'), node('b')];
    a.start();
    await advance(0);
    b.start();
    await advance(100);
    pausedMs += 700;
    expect(a.elector.isLeader()).toBe(false);
    await advance(0);
    expect(b.elector.leadership()?.token).toBe(2);
    await advance(2000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.calls).toEqual(['started:1', 'stopped:renew-deadline', 'new:b:2']);
  });

  it('steps down by its deadline timer when a renew never answers', async () => {
    const a = node('a');
    a.start();
    await advance(0);
    jest.spyOn(a.lock, 'renew').mockReturnValue(new Promise(() => undefined));
    const { signal } = a.elector.leadership()!;
    await advance(599);
    expect(signal.aborted).toBe(false);
    await advance(1);
    expect(signal.aborted).toBe(true);
    expect(a.logger.named('leader.lost')[0].facts.reason).toBe('renew-deadline');
  });

  it('retries failing renews at short intervals and steps down with redis-error at the deadline', async () => {
    const a = node('a');
    const renew = jest.spyOn(a.lock, 'renew');
    a.start();
    await advance(0);
    store.unavailable = true;
    await advance(599);
    expect(a.elector.isLeader()).toBe(true);
    expect(renew.mock.calls.length).toBeGreaterThanOrEqual(3);
    await advance(1);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.calls).toEqual(['started:1', 'stopped:redis-error']);
  });

  it('steps down when the lease was taken or vanished, and the next token is larger', async () => {
    const a = node('a');
    a.start();
    await advance(0);
    // a's lease ran out unnoticed and node b took it
    const intruder = new InMemoryLeaseLock(store, 'b');
    jest.spyOn(a.lock, 'renew').mockImplementationOnce(async (token) => {
      store.wipe();
      await intruder.tryAcquire(1000, token);
      return LeaseStatus.Lost;
    });
    await advance(250);
    expect(a.calls).toEqual(['started:1', 'stopped:lease-taken', 'new:b:2']);
    await intruder.release(2);
    await advance(0);
    expect(a.elector.leadership()?.token).toBe(3);
    store.wipe(); // Redis restarted without data: the counter starts over
    await advance(260);
    expect(a.calls).toEqual(['started:1', 'stopped:lease-taken', 'new:b:2', 'started:3', 'stopped:lease-missing', 'started:4']);
    expect(store.currentTerm()).toBe(4);
  });

  it('resign() releases at once, wakes a follower, and stands back one retry period', async () => {
    const [a, b] = [node('a'), node('b')];
    a.start();
    await advance(0);
    b.start();
    await advance(100);
    const leadership = a.elector.leadership()!;
    expect(await a.elector.resign()).toBe(true);
    expect(leadership.signal.aborted).toBe(true);
    expect(a.logger.named('leader.resigned')[0].facts).toEqual({ term: 1, released: true });
    await advance(0);
    expect(b.elector.leadership()?.token).toBe(2); // long before a's lease (1000 ms) would have run out
    expect(b.logger.named('leader.elected')[0].facts).toMatchObject({ previousLeader: 'a', leaderlessMs: 0 });
    await advance(500);
    expect(a.elector.isLeader()).toBe(false); // back in the competition, but b leads
    await b.stop();
    await advance(0);
    expect(a.elector.leadership()?.token).toBe(3);
    expect(a.calls).toEqual(['started:1', 'stopped:resigned', 'new:b:2', 'started:3']);
  });

  it('resign() is a no-op for a follower', async () => {
    const a = node('a');
    expect(await a.elector.resign()).toBe(false);
  });

  it('aborting run() while leading releases the lease and reports shutdown', async () => {
    const a = node('a');
    a.start();
    await advance(0);
    await a.stop();
    expect(await a.lock.get()).toBeNull();
    expect(a.calls).toEqual(['started:1', 'stopped:shutdown']);
    expect(a.logger.named('leader.resigned')).toHaveLength(1);
  });

  it('polls about half as often when the lock pushes expiry (the push, not the poll, wakes it for a dead leader)', async () => {
    const leader = node('leader');
    leader.start();
    await advance(100);
    const polling = node('polling');
    const pushed = node('pushed');
    (pushed.lock as InMemoryLeaseLock & { pushesExpiry?: () => boolean }).pushesExpiry = () => true;
    const pollingAttempts = jest.spyOn(polling.lock, 'tryAcquire');
    const pushedAttempts = jest.spyOn(pushed.lock, 'tryAcquire');
    polling.start();
    pushed.start();
    await advance(30_000);
    expect(pollingAttempts.mock.calls.length).toBeGreaterThanOrEqual(25); // once per lease (1 s)
    expect(pushedAttempts.mock.calls.length).toBeLessThanOrEqual(pollingAttempts.mock.calls.length / 2 + 1);
    expect(pushedAttempts.mock.calls.length).toBeGreaterThan(0);
  });

  it('a follower takes over when the leader stops renewing, only after the lease expired', async () => {
    const crashed = node('crashed');
    await crashed.lock.tryAcquire(1000, 0);
    const b = node('b');
    const acquire = jest.spyOn(b.lock, 'tryAcquire');
    b.start();
    await advance(990);
    expect(b.elector.isLeader()).toBe(false);
    await advance(40);
    expect(b.elector.leadership()?.token).toBe(2);
    expect(acquire.mock.calls.length).toBeLessThanOrEqual(3);
    expect(b.logger.named('leader.elected')[0].facts).toMatchObject({ previousLeader: 'crashed', leaderlessMs: expect.any(Number) });
  });

  it('backs off up to retryPeriodMs while the store is unreachable, then competes again', async () => {
    store.unavailable = true;
    const a = node('a');
    const acquire = jest.spyOn(a.lock, 'tryAcquire');
    a.start();
    await advance(5000);
    expect(acquire.mock.calls.length).toBeGreaterThan(10);
    expect(acquire.mock.calls.length).toBeLessThanOrEqual(30);
    expect(a.logger.named('election.redis-error')[0].level).toBe('warn');
    store.unavailable = false;
    await advance(200);
    expect(a.elector.isLeader()).toBe(true);
  });

  it('does not lead on an acquire answer that arrived after the renew deadline', async () => {
    const a = node('a');
    const lock = a.lock;
    const real = lock.tryAcquire.bind(lock);
    jest.spyOn(lock, 'tryAcquire').mockImplementationOnce(async (leaseMs, minToken) => {
      pausedMs += 700;
      return real(leaseMs, minToken);
    });
    expect(await a.elector.tryAcquireOrRenew()).toBe(false);
    await advance(0);
    expect(a.calls).toEqual([]);
    expect(await lock.get()).toBeNull();
  });

  it('tryAcquireOrRenew makes a single attempt and tracks the highest token seen', async () => {
    const [a, b] = [node('a'), node('b')];
    expect(await a.elector.tryAcquireOrRenew()).toBe(true);
    expect(await b.elector.tryAcquireOrRenew()).toBe(false);
    expect(await a.elector.tryAcquireOrRenew()).toBe(true);
    expect(b.elector.highestTokenSeen()).toBe(1);
    store.wipe();
    expect(await b.elector.tryAcquireOrRenew()).toBe(true);
    expect(b.elector.leadership()?.token).toBe(2);
  });

  it('keeps electing when a callback throws, and logs it', async () => {
    const a = node('a', { callbacks: { onStartedLeading: () => { throw new Error('boom'); }, onStoppedLeading: () => undefined } });
    a.start();
    await advance(0);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.logger.named('election.callback-failed')[0].msg).toContain('boom');
  });

  it('refuses a second concurrent run()', async () => {
    const a = node('a');
    a.start();
    await expect(a.elector.run(new AbortController().signal)).rejects.toThrow(/already running/);
  });
});

describe('LeaderElector options', () => {
  const lock = new (class {})() as never;
  const callbacks = { onStartedLeading: () => undefined, onStoppedLeading: () => undefined };
  const build = (o: Record<string, unknown>) => () =>
    new LeaderElector({ lock, callbacks, leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 250, ...o } as never);
  const field = (fn: () => unknown) => {
    try { fn(); } catch (err) { return err instanceof ElectionConfigError ? err.field : 'not-a-config-error'; }
    return 'no-error';
  };

  it.each([
    [{ leaseDurationMs: 0 }, 'leaseDurationMs'],
    [{ leaseDurationMs: Number.NaN }, 'leaseDurationMs'],
    [{ renewDeadlineMs: 1000 }, 'renewDeadlineMs'],
    [{ retryPeriodMs: 600 }, 'retryPeriodMs'],
    [{ retryPeriodMs: -1 }, 'retryPeriodMs'],
    [{ lock: undefined }, 'lock'],
    [{ callbacks: {} }, 'callbacks'],
  ])('rejects %p naming the field %s', (o, expected) => {
    expect(field(build(o))).toBe(expected);
  });

  it('accepts consistent timings', () => {
    expect(field(build({}))).toBe('no-error');
  });
});
