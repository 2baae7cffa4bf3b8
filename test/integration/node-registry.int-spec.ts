import { batonKeys, type Clock } from '@lib/common';
import type { Redis } from 'ioredis';
import { NodeRegistry, type NodeInfo } from '../../apps/baton/src/cluster/node-registry';
import { connectTo, startRedisServer, type RedisServerHandle } from '../support/redis-server';

describe('NodeRegistry on a real Redis', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let nowMs = Date.parse('2026-01-01T00:00:00Z');
  const clock: Clock = { nowMs: () => nowMs, monotonicMs: () => nowMs };
  const info = (nodeId: string, handlers = ['http', 'log']): NodeInfo =>
    ({ nodeId, host: 'h', pid: 1, version: '0.1.0', startedAt: `2026-01-01T00:00:0${nodeId.slice(-1)}.000Z`, handlers });
  const registry = (nodeId: string, handlers?: string[], prefix = 'reg') =>
    new NodeRegistry({ redis, prefix, clock, heartbeatMs: 1000, info: () => info(nodeId, handlers) });

  beforeAll(async () => {
    server = await startRedisServer();
    redis = await connectTo(server);
  });
  afterAll(async () => {
    await redis.quit();
    await server.cleanup();
  });

  it('beats with one command, lists live nodes, forgets those silent for 3 beats, and unions their handlers', async () => {
    const [a, b] = [registry('n1'), registry('n2', ['http', 'log', 'report'])];
    const before = Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]);
    await a.beat();
    const after = Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]);
    expect(after - before).toBe(2); // the HSET, plus the INFO that measured it
    await b.beat();
    expect((await a.live()).map((n) => [n.nodeId, n.lastSeenAt])).toEqual([
      ['n1', '2026-01-01T00:00:00.000Z'], ['n2', '2026-01-01T00:00:00.000Z'],
    ]);
    expect([...(await a.liveHandlers())].sort()).toEqual(['http', 'log', 'report']);

    nowMs += 2500;
    await a.beat();
    nowMs += 1000; // n2 last beat 3.5 s ago: gone
    expect((await a.live()).map((n) => n.nodeId)).toEqual(['n1']);
    expect(await redis.hkeys(batonKeys('reg').nodes)).toEqual(['n1']);
    expect([...(await a.liveHandlers())].sort()).toEqual(['http', 'log']);

    await a.stop();
    expect(await a.live()).toEqual([]);
  });

  it('forgets a silent node only while its entry is the one read, and never its own', async () => {
    const nodes = batonKeys('reg2').nodes;
    const [a, b, c] = [registry('n1', undefined, 'reg2'), registry('n2', undefined, 'reg2'), registry('n3', undefined, 'reg2')];
    await Promise.all([a.beat(), b.beat(), c.beat()]);
    nowMs += 3500; // n2 and n3 silent for 3.5 s
    await a.beat();
    // n2 beats again (back from a pause) between a's read and its pruning; n3 does not
    const read = redis.hgetall.bind(redis);
    const spy = jest.spyOn(redis, 'hgetall').mockImplementationOnce((async (key: string) => {
      const all = await read(key);
      await b.beat();
      return all;
    }) as unknown as typeof redis.hgetall);
    expect((await a.live()).map((n) => n.nodeId)).toEqual(['n1']); // as read
    spy.mockRestore();
    expect((await redis.hkeys(nodes)).sort()).toEqual(['n1', 'n2']);
    expect((await a.live()).map((n) => n.nodeId)).toEqual(['n1', 'n2']);

    nowMs += 10_000; // everyone silent, n1 too (say it was paused itself): n2 goes, n1's own entry stays for its next beat
    expect(await a.live()).toEqual([]);
    expect(await redis.hkeys(nodes)).toEqual(['n1']);
    await a.stop();
  });
});
