import { systemClock, type Clock } from '@lib/common';
import { readLeader, RedisLeaseLock, type LeaseLock } from '@lib/election';
import { createTestNode, type TestNode } from '@lib/election/core/election-test-kit';
import type { Redis } from 'ioredis';
import { connectTo, startRedisServer, type RedisServerHandle } from '../support/redis-server';

jest.setTimeout(30_000);

const TIMINGS = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 250 };

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** partitioned wraps a lock so that, once cut off, none of its calls ever answers (a leader behind a partition). */
function partitioned(lock: LeaseLock): LeaseLock & { cut(): void } {
  let cut = false;
  const hang = <T>(call: () => Promise<T>) => (cut ? new Promise<T>(() => undefined) : call());
  return {
    identity: lock.identity,
    cut: () => { cut = true; },
    tryAcquire: (leaseMs, minToken) => hang(() => lock.tryAcquire(leaseMs, minToken)),
    renew: (token, leaseMs) => hang(() => lock.renew(token, leaseMs)),
    release: (token) => hang(() => lock.release(token)),
    get: () => hang(() => lock.get()),
    onFreed: (listener) => lock.onFreed(listener),
    start: () => lock.start(),
    close: () => lock.close(),
  };
}

describe('LeaderElector with RedisLeaseLock (real redis-server)', () => {
  let server: RedisServerHandle;
  let clients: Redis[];
  let locks: LeaseLock[];
  let nodes: TestNode[];
  let prefix: string;
  let n = 0;

  const lockFor = async (identity: string): Promise<RedisLeaseLock> => {
    const [redis, subscriber] = [await connectTo(server), await connectTo(server)];
    clients.push(redis, subscriber);
    const lock = new RedisLeaseLock({ redis, subscriber, prefix, identity });
    locks.push(lock);
    return lock;
  };
  const node = async (identity: string, opts: { lock?: LeaseLock; clock?: Clock } = {}): Promise<TestNode> => {
    const lock = opts.lock ?? (await lockFor(identity));
    const created = createTestNode({ lock }, opts.clock ?? systemClock, { ...TIMINGS, random: Math.random });
    nodes.push(created);
    return created;
  };
  const leaders = () => nodes.filter((x) => x.elector.isLeader());

  beforeEach(async () => {
    server = await startRedisServer();
    prefix = `elector-${++n}`;
    clients = [];
    locks = [];
    nodes = [];
  });
  afterEach(async () => {
    await Promise.all(nodes.map((x) => x.stop()));
    await Promise.all(locks.map((l) => l.close()));
    clients.forEach((c) => c.disconnect());
    await server.cleanup();
  });

  it('elects exactly one of three nodes and keeps it while it renews', async () => {
    const all = [await node('a'), await node('b'), await node('c')];
    all.forEach((x) => x.start());
    await waitFor(() => leaders().length === 1, 3000, 'a leader');
    const leader = leaders()[0];
    const until = Date.now() + 2500; // 2.5 leases
    while (Date.now() < until) {
      expect(leaders()).toEqual([leader]);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(leader.calls).toEqual(['started:1']);
    const view = await readLeader(clients[0], prefix);
    expect(view).toMatchObject({ nodeId: leader.lock.identity, term: 1 });
    expect(all.filter((x) => x !== leader).every((x) => x.calls.join() === `new:${leader.lock.identity}:1`)).toBe(true);
  });

  it('a graceful stop releases the lease and a follower takes over in milliseconds', async () => {
    const a = await node('a');
    a.start();
    await waitFor(() => a.elector.isLeader(), 3000, 'a to lead');
    const b = await node('b');
    b.start();
    await waitFor(() => b.calls.includes('new:a:1'), 3000, 'b to see a');
    await new Promise((r) => setTimeout(r, 300)); // b is now asleep on a's lease ttl
    const stoppedAt = Date.now();
    await a.stop();
    await waitFor(() => b.elector.isLeader(), 1000, 'b to lead');
    const takeoverMs = Date.now() - stoppedAt;
    expect(takeoverMs).toBeLessThan(400); // the lease had ~1000 ms left
    expect(b.leaderships[0].token).toBe(2);
    expect(b.logger.named('leader.elected')[0].facts).toMatchObject({ previousLeader: 'a', previousTerm: 1 });
    expect(a.calls).toEqual(['started:1', 'stopped:shutdown']);
  });

  it('resign() hands leadership to the other node at once', async () => {
    const [a, b] = [await node('a'), await node('b')];
    a.start();
    await waitFor(() => a.elector.isLeader(), 3000, 'a to lead');
    b.start();
    await new Promise((r) => setTimeout(r, 100));
    const at = Date.now();
    expect(await a.elector.resign()).toBe(true);
    await waitFor(() => b.elector.isLeader(), 1000, 'b to lead');
    expect(Date.now() - at).toBeLessThan(400);
    expect(a.elector.isLeader()).toBe(false);
  });

  it('a leader cut off from Redis stops on its own deadline, and the follower takes over only after the lease expired', async () => {
    const inner = await lockFor('a');
    const cutOff = partitioned(inner);
    const a = await node('a', { lock: cutOff });
    a.start();
    await waitFor(() => a.elector.isLeader(), 3000, 'a to lead');
    const b = await node('b');
    b.start();
    await waitFor(() => b.calls.includes('new:a:1'), 3000, 'b to see a');
    const { signal } = a.elector.leadership()!;
    let stoppedAt = 0;
    signal.addEventListener('abort', () => { stoppedAt = Date.now(); });
    const cutAt = Date.now();
    cutOff.cut();
    await waitFor(() => b.elector.isLeader(), 3000, 'b to lead');
    const tookOverAt = Date.now();
    expect(stoppedAt).toBeGreaterThan(0);
    expect(stoppedAt - cutAt).toBeLessThanOrEqual(TIMINGS.renewDeadlineMs + 150);
    expect(tookOverAt).toBeGreaterThan(stoppedAt); // never two leaders
    // the lease ran out between (lease - retryPeriod) and lease after the cut
    expect(tookOverAt - cutAt).toBeGreaterThanOrEqual(TIMINGS.leaseDurationMs - TIMINGS.retryPeriodMs - 100);
    expect(tookOverAt - cutAt).toBeLessThan(TIMINGS.leaseDurationMs + 600);
    expect(a.logger.named('leader.lost')[0].facts).toEqual({ term: 1, reason: 'renew-deadline' });
  });

  it('a paused leader is no longer leader once its deadline passed, before any timer ran', async () => {
    let pausedMs = 0;
    const clock: Clock = { nowMs: () => Date.now() + pausedMs, monotonicMs: () => systemClock.monotonicMs() + pausedMs };
    const a = await node('a', { clock });
    a.start();
    await waitFor(() => a.elector.isLeader(), 3000, 'a to lead');
    const b = await node('b');
    b.start();
    await waitFor(() => b.calls.includes('new:a:1'), 3000, 'b to see a');
    const leadership = a.elector.leadership()!;
    pausedMs += TIMINGS.renewDeadlineMs; // as if SIGSTOP'd that long: the next check happens before any timer
    expect(leadership.isValid()).toBe(false);
    expect(leadership.signal.aborted).toBe(true);
    expect(a.calls).toEqual(['started:1', 'stopped:renew-deadline']);
    // it gives the lease back, so b need not wait for expiry
    await waitFor(() => b.elector.isLeader(), 500, 'b to lead');
    expect(b.leaderships[0].token).toBe(2);
  });

  it('fencing tokens keep rising across a Redis restart that lost all data', async () => {
    const [a, b] = [await node('a'), await node('b')];
    a.start();
    b.start();
    await waitFor(() => leaders().length === 1, 3000, 'a leader');
    let leader = leaders()[0];
    await leader.elector.resign(); // term 2 goes to the other node
    await waitFor(() => leaders().length === 1 && leaders()[0] !== leader, 3000, 'the other node to lead');
    leader = leaders()[0];
    expect(leader.leaderships[0].token).toBe(2);
    await server.restart({ wipeData: true });
    await waitFor(() => leaders().length === 1 && (leaders()[0].elector.leadership()?.token ?? 0) > 2, 10_000, 'a new leadership');
    expect(leaders()[0].elector.leadership()!.token).toBe(3);
    // A fresh client: the old ones may still be noticing the restart (an in-flight command would fail with "Connection is closed").
    const fresh = await connectTo(server);
    clients.push(fresh);
    expect(Number(await fresh.get(`{${prefix}}:term`))).toBe(3);
    const tokens = nodes.flatMap((x) => x.leaderships.map((l) => l.token)).sort((p, q) => p - q);
    expect(tokens).toEqual([1, 2, 3]);
  });
});
