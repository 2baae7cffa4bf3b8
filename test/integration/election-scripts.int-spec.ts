import { batonKeys } from '@lib/common';
import { electionCommands, LeaseStatus, readLeader, RedisLeaseLock, type ElectionCommands, type LeaseFreedReason, type LeaseHolder } from '@lib/election';
import type { Redis } from 'ioredis';
import { connectTo, startRedisServer, type RedisServerHandle } from '../support/redis-server';

jest.setTimeout(20_000);

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('election Lua scripts and RedisLeaseLock (real redis-server)', () => {
  let server: RedisServerHandle;
  let redis: Redis & ElectionCommands;
  const clients: Redis[] = [];
  let prefix: string;
  let k: ReturnType<typeof batonKeys>;
  let n = 0;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  beforeEach(async () => {
    prefix = `scripts-${++n}`;
    k = batonKeys(prefix);
    redis = electionCommands(await connectTo(server));
    clients.push(redis);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
  });
  afterAll(async () => server?.cleanup());

  const acquire = (node: string, leaseMs = 1000, minToken = 0) =>
    redis.acquireLease(k.leader, k.term, k.leaderInfo, k.electionChannel, node, leaseMs, minToken);

  // Leases of a minute, so that a stall of the test machine between two commands (CI saw 150 ms) cannot
  // make a lease look shorter than it was set: the assertions only need "set from the lease, still running".
  it('acquireLease takes a free lease with token 1 and records the leadership', async () => {
    expect(await acquire('a', 60_000)).toEqual([1, 0, null, 0, 0]);
    expect(await redis.get(k.leader)).toBe('1:a');
    const pttl = await redis.pttl(k.leader);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    const info = await redis.hgetall(k.leaderInfo);
    const now = Number((await redis.time())[0]) * 1000;
    expect(info).toMatchObject({ nodeId: 'a', term: '1' });
    expect(Math.abs(Number(info.since) - now)).toBeLessThan(1500);
    expect(Number(info.until) - Number(info.since)).toBe(60_000);
  });

  it('acquireLease refuses a held lease and returns its pttl and holder (first writer wins)', async () => {
    await acquire('a', 60_000);
    const [code, pttl, holder] = await acquire('b');
    expect(code).toBe(-1);
    expect(pttl).toBeGreaterThan(50_000);
    expect(holder).toBe('1:a');
    expect(await redis.get(k.term)).toBe('1');
  });

  it('acquireLease hands out a token above minToken even when the counter is lower', async () => {
    expect((await acquire('a', 1000, 41))[0]).toBe(42);
    expect(await redis.get(k.term)).toBe('42');
    await redis.del(k.leader);
    expect((await acquire('b', 1000, 5))[0]).toBe(43);
  });

  it('acquireLease reports the previous leader and how long nobody led', async () => {
    await acquire('a');
    expect(await redis.releaseLease(k.leader, k.leaderInfo, k.electionChannel, '1:a')).toBe(LeaseStatus.Ok);
    await new Promise((r) => setTimeout(r, 60));
    const [token, prevTerm, prevNode, gapMs] = await acquire('b');
    expect([token, prevTerm, prevNode]).toEqual([2, 1, 'a']);
    expect(gapMs).toBeGreaterThanOrEqual(50);
    expect(gapMs).toBeLessThan(1000);
  });

  it('acquireLease tells how long a crashed leader had been silent, not only since its lease ran out', async () => {
    await acquire('a', 60_000); // long enough that no stall lets it lapse before its renewal
    await new Promise((r) => setTimeout(r, 150));
    expect(await redis.renewLease(k.leader, k.leaderInfo, k.renewalChannel, '1:a', 200)).toBe(LeaseStatus.Ok); // last word from 'a'
    await new Promise((r) => setTimeout(r, 400)); // 'a' crashed: its lease runs out 200 ms after that renew
    const [token, , prevNode, gapMs, silentMs] = await acquire('b');
    expect([token, prevNode]).toEqual([2, 'a']);
    expect(silentMs).toBeGreaterThanOrEqual(390);
    expect(gapMs).toBeLessThanOrEqual(Number(silentMs) - 190);
  });

  it('renewLease extends and publishes only the holder value; -1 for another value, -2 when missing', async () => {
    const sub = await connectTo(server);
    clients.push(sub);
    const renewals: string[] = [];
    sub.on('message', (channel: string, message: string) => renewals.push(`${channel} ${message}`));
    await sub.subscribe(k.renewalChannel);
    await acquire('a', 60_000);
    expect(await redis.renewLease(k.leader, k.leaderInfo, k.renewalChannel, '1:b', 120_000)).toBe(LeaseStatus.Lost);
    expect(await redis.renewLease(k.leader, k.leaderInfo, k.renewalChannel, '2:a', 120_000)).toBe(LeaseStatus.Lost);
    expect(await redis.pttl(k.leader)).toBeLessThanOrEqual(60_000);
    expect(await redis.renewLease(k.leader, k.leaderInfo, k.renewalChannel, '1:a', 120_000)).toBe(LeaseStatus.Ok);
    expect(await redis.pttl(k.leader)).toBeGreaterThan(60_000);
    const info = await redis.hgetall(k.leaderInfo);
    expect(Number(info.until) - Number(info.since)).toBeGreaterThanOrEqual(120_000);
    await redis.del(k.leader);
    expect(await redis.renewLease(k.leader, k.leaderInfo, k.renewalChannel, '1:a', 120_000)).toBe(LeaseStatus.Missing);
    expect(await redis.exists(k.leader)).toBe(0);
    await redis.publish(k.renewalChannel, 'end'); // pub/sub keeps order: once 'end' is here, every renewal broadcast is
    await waitFor(() => renewals.length > 0 && renewals[renewals.length - 1].endsWith(' end'), 2000, 'the broadcasts');
    expect(renewals).toEqual([`${k.renewalChannel} 1:a`, `${k.renewalChannel} end`]); // the one renewal that succeeded
  });

  it('acquireLease announces the new term, releaseLease deletes only the holder value and publishes the release; -1 / -2 otherwise', async () => {
    const sub = await connectTo(server);
    clients.push(sub);
    const messages: string[] = [];
    sub.on('message', (_channel: string, message: string) => messages.push(message));
    await sub.subscribe(k.electionChannel);
    await acquire('a');
    expect(await redis.releaseLease(k.leader, k.leaderInfo, k.electionChannel, '1:b')).toBe(LeaseStatus.Lost);
    expect(await redis.get(k.leader)).toBe('1:a');
    expect(await redis.releaseLease(k.leader, k.leaderInfo, k.electionChannel, '1:a')).toBe(LeaseStatus.Ok);
    expect(await redis.exists(k.leader)).toBe(0);
    const info = await redis.hgetall(k.leaderInfo);
    expect(Number(info.until)).toBeLessThan(Number(info.since) + 1000);
    expect(await redis.releaseLease(k.leader, k.leaderInfo, k.electionChannel, '1:a')).toBe(LeaseStatus.Missing);
    await waitFor(() => messages.length > 1, 2000, 'the release broadcast');
    expect(messages).toEqual(['elected:1:a', '1:a']); // acquireLease announces the term; releaseLease sends the released value
  });

  it('readLeader returns null without a lease and the leader view with one', async () => {
    expect(await readLeader(redis, prefix)).toBeNull();
    await acquire('node-1', 60_000, 6);
    const view = await readLeader(redis, prefix);
    expect(view).toMatchObject({ nodeId: 'node-1', term: 7 });
    expect(view!.leaseRemainingMs).toBeGreaterThan(50_000);
    expect(view!.leaseRemainingMs).toBeLessThanOrEqual(60_000);
    expect(Math.abs(view!.since! - Date.now())).toBeLessThan(2000);
  });

  it('RedisLeaseLock keeps existing keyspace flags, adds Kx (not g), and wakes listeners on release and expiry', async () => {
    await redis.config('SET', 'notify-keyspace-events', 'Elz');
    const subscriber = await connectTo(server);
    clients.push(subscriber);
    const lock = new RedisLeaseLock({ redis, subscriber, prefix, identity: 'a' });
    const other = new RedisLeaseLock({ redis, prefix, identity: 'b' });
    const seen: LeaseFreedReason[] = [];
    lock.onFreed((reason) => seen.push(reason));
    expect(lock.pushesExpiry()).toBe(false); // not subscribed yet
    await lock.start();
    expect(lock.pushesExpiry()).toBe(true);
    const flags = ((await redis.config('GET', 'notify-keyspace-events')) as string[])[1];
    expect([...flags].sort().join('')).toBe([...'ElzKx'].sort().join(''));

    const elected: LeaseHolder[] = [];
    lock.onElected((holder) => elected.push(holder));
    const first = await lock.tryAcquire(1000, 0);
    expect(first).toMatchObject({ acquired: true, token: 1 });
    await waitFor(() => elected.length === 1, 2000, 'the new-term announcement');
    expect(elected).toEqual([{ token: 1, nodeId: 'a' }]);
    expect(seen).toEqual([]); // an announcement is not a wake-up
    expect(await other.tryAcquire(1000, 0)).toMatchObject({ acquired: false, holder: { nodeId: 'a', token: 1 } });
    expect(await other.release(1)).toBe(LeaseStatus.Lost);
    expect(await lock.get()).toMatchObject({ nodeId: 'a', token: 1 });
    expect(await lock.release(1)).toBe(LeaseStatus.Ok);
    await waitFor(() => seen.includes('released'), 2000, 'the release wake-up');
    expect(seen).toEqual(['released']); // no `del` event: g is not asked for

    await other.tryAcquire(100, 0);
    await waitFor(() => seen.includes('expired'), 3000, 'the expired wake-up');
    expect(await lock.get()).toBeNull();
    await lock.close();
    expect(lock.pushesExpiry()).toBe(false);
  });

  it('RedisLeaseLock tells `lapsed` once a lease passed without a renewal (the key then acquirable), never while renewals come', async () => {
    // Redis's active expiry off: it never expires the key (nor sends `expired`) by itself, only when the key is read
    const slow = await startRedisServer({ extraArgs: ['--enable-debug-command', 'local'] });
    try {
      const conn = await connectTo(slow);
      const subscriber = await connectTo(slow);
      clients.push(conn, subscriber);
      await conn.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
      const leader = new RedisLeaseLock({ redis: conn, prefix, identity: 'a' });
      const follower = new RedisLeaseLock({ redis: conn, subscriber, prefix, identity: 'b' });
      const seen: LeaseFreedReason[] = [];
      follower.onFreed((reason) => seen.push(reason));
      await follower.start();
      const leaseMs = 3000; // long enough that a stall of the test machine between renewals cannot lapse it
      expect(await leader.tryAcquire(leaseMs, 0)).toMatchObject({ acquired: true, token: 1 });
      expect(await follower.tryAcquire(leaseMs, 0)).toMatchObject({ acquired: false }); // it now knows the lease
      for (let i = 0; i < 6; i++) { // 1.8 s of renewals, each seen by the follower
        await new Promise((r) => setTimeout(r, 300));
        expect(await leader.renew(1, leaseMs)).toBe(LeaseStatus.Ok);
      }
      expect(seen).toEqual([]);
      await waitFor(() => seen.length > 0, 10_000, 'a wake-up after the renewals stopped');
      expect(seen).toEqual(['lapsed']);
      expect(await follower.tryAcquire(leaseMs, 1)).toMatchObject({ acquired: true, token: 2 }); // not told too early
      await follower.close();
    } finally {
      await slow.cleanup();
    }
  });

  it('RedisLeaseLock still works where CONFIG is forbidden (no keyspace events, release broadcasts only)', async () => {
    await redis.config('SET', 'notify-keyspace-events', '');
    const forbidding = electionCommands(await connectTo(server));
    clients.push(forbidding);
    jest.spyOn(forbidding, 'config').mockRejectedValue(new Error("ERR unknown command 'CONFIG'"));
    const subscriber = await connectTo(server);
    clients.push(subscriber);
    const lock = new RedisLeaseLock({ redis: forbidding, subscriber, prefix, identity: 'a' });
    const seen: LeaseFreedReason[] = [];
    lock.onFreed((reason) => seen.push(reason));
    await lock.start();
    expect(lock.pushesExpiry()).toBe(false); // followers keep polling once per lease
    expect(((await redis.config('GET', 'notify-keyspace-events')) as string[])[1]).toBe('');
    await lock.tryAcquire(1000, 0);
    await lock.release(1);
    await waitFor(() => seen.includes('released'), 2000, 'the release broadcast');
    // renewals are broadcast by their script: a lapse is still told, without any keyspace event
    const leader = new RedisLeaseLock({ redis, prefix, identity: 'b' });
    const leaseMs = 3000; // long enough that a stall of the test machine between renewals cannot lapse it
    expect(await leader.tryAcquire(leaseMs, 0)).toMatchObject({ acquired: true, token: 2 });
    expect(await lock.tryAcquire(leaseMs, 0)).toMatchObject({ acquired: false }); // it now knows the lease
    for (let i = 0; i < 6; i++) { // 1.8 s of renewals
      await new Promise((r) => setTimeout(r, 300));
      expect(await leader.renew(2, leaseMs)).toBe(LeaseStatus.Ok);
    }
    expect(seen).toEqual(['released']);
    await waitFor(() => seen.length > 1, 10_000, 'a wake-up after the renewals stopped');
    expect(seen).toEqual(['released', 'lapsed']);
    expect(await lock.tryAcquire(leaseMs, 2)).toMatchObject({ acquired: true, token: 3 }); // told a lease after the last renewal, not before
    await lock.close();
  });
});
