import type { Redis } from 'ioredis';
import { Queue, Worker, type Job } from 'bullmq';
import { batonKeys, RUNS_KEPT, runsTrimDue, tickJobId, type BatonJobData } from '@lib/common';
import {
  FencedEnqueuer, FencedOffError, ScheduleStore, fencedConnectionOptions, jobOptions, validateScheduleInput,
  type EnqueueFence, type ScheduleSpec,
} from '@lib/scheduling';
import { connectTo, startRedisServer, type RedisServerHandle } from '../support/redis-server';

function spec(name: string, extra: Record<string, unknown> = {}): ScheduleSpec {
  const result = validateScheduleInput({ name, cron: '* * * * * *', handler: 'log', ...extra }, { handlers: new Set(['log']) });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
}

const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('FencedEnqueuer on a real Redis', () => {
  let server: RedisServerHandle;
  let admin: Redis;
  let redis: Redis;
  let queue: Queue;
  let enqueuer: FencedEnqueuer;
  let keys: ReturnType<typeof batonKeys>;
  let fence: EnqueueFence;
  let seq = 0;

  beforeAll(async () => {
    server = await startRedisServer();
    admin = await connectTo(server);
  });
  afterAll(async () => {
    await admin.quit();
    await server.cleanup();
  });
  beforeEach(async () => {
    const prefix = `enq-${++seq}`;
    keys = batonKeys(prefix);
    redis = await connectTo(server, fencedConnectionOptions);
    queue = new Queue(keys.queueName, { connection: redis, prefix: keys.tag });
    enqueuer = new FencedEnqueuer({ redis, queue, prefix });
    await admin.set(keys.leader, '7:node-a', 'PX', 60_000);
    await admin.set(keys.schedulesRev, '3');
    fence = { leaseValue: '7:node-a', fencingToken: 7, rev: 3 };
  });
  afterEach(async () => {
    await enqueuer.close();
    await redis.quit();
    const found = await admin.keys(`${keys.tag}:*`);
    if (found.length) await admin.del(...found);
  });

  const jobCount = async () => (await admin.keys(`${keys.tag}:jobs:*@*`)).length;

  it('writes the job, its data and options, the cursor and the runs index', async () => {
    const s = spec('alpha', { attempts: 5, backoff: { type: 'fixed', delayMs: 10 }, data: { k: 1 } });
    const result = await enqueuer.enqueueTicks(fence, [{ spec: s, fireAtMs: T0 }]);
    expect(result.enqueued.map((t) => t.jobId)).toEqual([`alpha@${T0}`]);
    const job = await queue.getJob(`alpha@${T0}`);
    expect(job?.data).toEqual<BatonJobData>({
      schedule: 'alpha', handler: 'log', scheduledFor: '2026-01-01T00:00:00.000Z', fencingToken: 7,
      payload: { k: 1 }, timeoutMs: 30000, trigger: 'cron',
    });
    expect(job?.opts).toMatchObject({ attempts: 5, backoff: { type: 'fixed', delay: 10 } });
    expect(await admin.hget(keys.cursor, 'alpha')).toBe(String(T0));
    expect(await admin.zrange(keys.runs('alpha'), '0', '-1', 'WITHSCORES')).toEqual([`alpha@${T0}`, String(T0)]);
  });

  it('trims runs:<name> to the newest RUNS_KEPT when a trim-due tick is enqueued', async () => {
    const s = spec('trimmed');
    const old: (string | number)[] = [];
    for (let i = 0; i < RUNS_KEPT + 5; i++) old.push(i, `trimmed@${i}`);
    await admin.zadd(keys.runs('trimmed'), ...old);
    let fireAtMs = T0;
    while (runsTrimDue(tickJobId('trimmed', fireAtMs))) fireAtMs += 1000; // one tick that does not trim...
    await enqueuer.enqueueTicks(fence, [{ spec: s, fireAtMs }]);
    expect(await admin.zcard(keys.runs('trimmed'))).toBe(RUNS_KEPT + 6);
    fireAtMs += 1000;
    while (!runsTrimDue(tickJobId('trimmed', fireAtMs))) fireAtMs += 1000; // ...then one that does
    await enqueuer.enqueueTicks(fence, [{ spec: s, fireAtMs }]);
    expect(await admin.zcard(keys.runs('trimmed'))).toBe(RUNS_KEPT);
    expect(await admin.zscore(keys.runs('trimmed'), 'trimmed@6')).toBeNull();
    expect(await admin.zscore(keys.runs('trimmed'), 'trimmed@7')).not.toBeNull();
    expect(await admin.zscore(keys.runs('trimmed'), tickJobId('trimmed', fireAtMs))).toBe(String(fireAtMs));
  });

  const waitingEvents = async () => {
    const events = await admin.xrange(keys.jobsEvents, '-', '+');
    return events.filter(([, f]) => f[f.indexOf('event') + 1] === 'waiting').map(([id, f]) => ({ atMs: Number(id.split('-')[0]), jobId: f[f.indexOf('jobId') + 1] }));
  };

  it('writes the ticks of an instant still to come ahead, as delayed jobs that promoteTicks moves to wait at it, never before', async () => {
    const atMs = Math.ceil((Date.now() + 3000) / 100) * 100;
    const ticks = Array.from({ length: 1200 }, (_, i) => ({ spec: spec(`ahead-${i}`), fireAtMs: atMs }));
    const result = await enqueuer.enqueueTicks(fence, ticks);
    expect(Date.now()).toBeLessThan(atMs);
    expect(result.enqueued.every((t) => t.ahead)).toBe(true);
    expect(await queue.getDelayedCount()).toBe(1200);
    expect(await queue.getWaitingCount()).toBe(0);
    expect(await admin.hget(keys.cursor, 'ahead-0')).toBe(String(atMs));
    const ids = result.enqueued.map((t) => t.jobId);
    // not due yet: nothing moves
    expect(new Set(await enqueuer.promoteTicks(ids, atMs - 1))).toEqual(new Set(['not-due']));
    while (Date.now() < atMs) await new Promise((r) => setTimeout(r, 5));
    expect(new Set(await enqueuer.promoteTicks(ids, atMs))).toEqual(new Set(['moved']));
    expect(await queue.getWaitingCount()).toBe(1200);
    expect(await queue.getDelayedCount()).toBe(0);
    // Redis's own clock stamps each job's `waiting` event: none before the instant
    const waiting = await waitingEvents();
    expect(waiting).toHaveLength(1200);
    expect(Math.min(...waiting.map((w) => w.atMs))).toBeGreaterThanOrEqual(atMs);
    expect(await enqueuer.promoteTicks([ids[0], 'never@1'], atMs)).toEqual(['earlier', 'gone']);
  });

  it('writes each job as BullMQ\'s own add would: the same hash, queue entry, marker and events, due or ahead', async () => {
    const nowMs = Date.now();
    // the script joins each job's data and options from pieces (writeTicksArgs): plain and awkward payloads, retries, overlap
    const tricky = { data: { text: '"scheduledFor":"x","fencingToken":0,\\"', nl: 'a\nb', u: 'é✓', deep: [1, { e: {} }] },
      attempts: 5, backoff: { type: 'exponential', delayMs: 250 }, timeoutMs: 1234, overlap: 'skip' };
    const cases = [
      { name: 'same-due', atMs: nowMs - 1000, extra: { data: { n: 1 } } },
      { name: 'same-ahead', atMs: nowMs + 60_000, extra: { data: { n: 1 } } },
      { name: 'same.tricky_1', atMs: nowMs - 2000, extra: tricky },
      { name: 'same-no-data', atMs: nowMs + 30_000, extra: {} },
    ];
    const other = batonKeys(`${keys.tag.slice(1, -1)}-bullmq`);
    const bullQueue = new Queue(other.queueName, { connection: admin, prefix: other.tag });
    try {
      for (const { name, atMs, extra } of cases) {
        const s = spec(name, extra);
        await enqueuer.enqueueTicks(fence, [{ spec: s, fireAtMs: atMs }]);
        const jobId = tickJobId(name, atMs);
        const data: BatonJobData = { schedule: name, handler: 'log', scheduledFor: new Date(atMs).toISOString(), fencingToken: 7,
          payload: s.data ?? null, timeoutMs: s.timeoutMs, trigger: 'cron' };
        const ours = await admin.hgetall(keys.job(jobId));
        await bullQueue.add(name, data, jobOptions(s, jobId, atMs, Number(ours.timestamp)));
        const theirs = await admin.hgetall(other.job(jobId));
        // the job's timestamp is when it was written (BullMQ's default), at its draft for ours
        expect(Number(ours.timestamp)).toBeGreaterThanOrEqual(nowMs);
        const comparable = (h: Record<string, string>) => ({ ...h, opts: JSON.parse(h.opts), timestamp: undefined });
        expect(comparable(ours)).toEqual(comparable(theirs));
        for (const list of ['wait', 'delayed', 'marker']) {
          const entries = async (k: ReturnType<typeof batonKeys>) => {
            const key = `${k.tag}:${k.queueName}:${list}`;
            return (await admin.type(key)) === 'list' ? admin.lrange(key, 0, -1) : admin.zrange(key, '0', '-1', 'WITHSCORES');
          };
          expect(await entries(keys)).toEqual(await entries(other));
        }
        const events = async (k: ReturnType<typeof batonKeys>) => (await admin.xrange(k.jobsEvents, '-', '+'))
          .map(([, fields]) => fields.join(' '));
        expect(await events(keys)).toEqual(await events(other));
        await admin.del(keys.jobsEvents, other.jobsEvents);
      }
    } finally {
      await bullQueue.close();
    }
  });

  it('writes a tick that is already due straight to wait', async () => {
    const result = await enqueuer.enqueueTicks(fence, [{ spec: spec('due'), fireAtMs: Date.now() - 1 }]);
    expect(result.enqueued.map((t) => t.ahead)).toEqual([false]);
    expect(await queue.getWaitingCount()).toBe(1);
  });

  it('leaves a tick written ahead to the workers when nobody promotes it (its leader died): it runs at its instant, not before', async () => {
    // the worker is idle (blocked on the marker) before the tick is written: the delay marker must wake it
    const worker = new Worker(keys.queueName, async () => 'ran', { connection: await connectTo(server, { maxRetriesPerRequest: null }), prefix: keys.tag });
    try {
      await worker.waitUntilReady();
      await new Promise((r) => setTimeout(r, 300));
      const completed = new Promise<Job>((resolve) => worker.on('completed', (j) => resolve(j)));
      const atMs = Date.now() + 600;
      await enqueuer.enqueueTicks(fence, [{ spec: spec('orphan'), fireAtMs: atMs }]);
      const job = await completed;
      expect(job.id).toBe(`orphan@${atMs}`);
      expect(job.processedOn).toBeGreaterThanOrEqual(atMs);
      expect((await waitingEvents()).map((w) => w.atMs)[0]).toBeGreaterThanOrEqual(atMs);
    } finally {
      await worker.close();
      await (worker.opts.connection as Redis).quit();
    }
  });

  it('withdraws the ticks written ahead for a schedule that is paused, changed or deleted, lowering its cursor to just before them', async () => {
    const store = new ScheduleStore({ redis: admin, prefix: keys.tag.slice(1, -1) });
    const created = await Promise.all(['paused', 'changed', 'deleted', 'other'].map((n) => store.create(spec(n))));
    const rev = await store.rev();
    await new Promise((r) => setTimeout(r, 20));
    const nowMs = Date.now();
    const dueMs = nowMs - 5; // after the creation (the cursor), already due: stays
    const at = [nowMs + 60_000, nowMs + 61_000];
    const ticks = created.flatMap((s) => [dueMs, ...at].map((fireAtMs) => ({ spec: s, fireAtMs })));
    const result = await enqueuer.enqueueTicks({ ...fence, rev }, ticks);
    expect(result.enqueued).toHaveLength(12);
    await store.setPaused('paused', true);
    await store.put({ ...spec('changed'), data: { v: 2 } });
    await store.delete('deleted');
    for (const name of ['paused', 'changed', 'deleted']) {
      expect(await admin.exists(keys.job(`${name}@${at[0]}`), keys.job(`${name}@${at[1]}`))).toBe(0);
      expect(await admin.zrange(keys.runs(name), '0', '-1')).toEqual([`${name}@${dueMs}`]);
      expect(await admin.exists(keys.job(`${name}@${dueMs}`))).toBe(1);
    }
    expect(await admin.hget(keys.cursor, 'paused')).toBe(String(at[0] - 1));
    expect(await admin.hget(keys.cursor, 'deleted')).toBe(String(at[0] - 1));
    // the new cron-less change keeps the lowered cursor, so the leader writes those instants again for the new definition
    expect(await admin.hget(keys.cursor, 'changed')).toBe(String(at[0] - 1));
    expect(await admin.hget(keys.cursor, 'other')).toBe(String(at[1]));
    expect(await queue.getDelayedCount()).toBe(2); // other's two
    // BullMQ's event stream tells the withdrawal like a removal
    const removed = (await admin.xrange(keys.jobsEvents, '-', '+')).filter(([, f]) => f[1] === 'removed').map(([, f]) => f.slice(2).join(' '));
    expect(removed.sort()).toEqual(['paused', 'changed', 'deleted'].flatMap((n) => at.map((ms) => `jobId ${n}@${ms} prev delayed`)).sort());
    const again = await enqueuer.enqueueTicks({ ...fence, rev: await store.rev() }, [{ spec: { ...created[1], data: { v: 2 } }, fireAtMs: at[0] }]);
    expect(again.enqueued.map((t) => t.jobId)).toEqual([`changed@${at[0]}`]);
    expect((await queue.getJob(`changed@${at[0]}`))?.data.payload).toEqual({ v: 2 });
  });

  it('turns the same tick into one job, also after that job was removed', async () => {
    const tick = { spec: spec('once'), fireAtMs: T0 };
    await enqueuer.enqueueTicks(fence, [tick, tick]);
    expect(await jobCount()).toBe(1);
    const again = await enqueuer.enqueueTicks(fence, [tick]);
    expect(again.enqueued).toEqual([]);
    expect(again.skipped).toEqual([{ tick, reason: 'already-enqueued' }]);
    await (await queue.getJob(`once@${T0}`))!.remove();
    expect(await jobCount()).toBe(0);
    expect((await enqueuer.enqueueTicks(fence, [tick])).enqueued).toEqual([]);
    expect(await jobCount()).toBe(0);
  });

  it('refuses a lease value that is not the one in Redis and writes nothing', async () => {
    const wrong = { ...fence, leaseValue: '6:node-b' };
    await expect(enqueuer.enqueueTicks(wrong, [{ spec: spec('x'), fireAtMs: T0 }])).rejects.toBeInstanceOf(FencedOffError);
    expect(await jobCount()).toBe(0);
    expect(await admin.hget(keys.cursor, 'x')).toBeNull();
  });

  it('writes through a renewal of its own lease right before its batch', async () => {
    beforeNextWrite(redis, () => void redis.pexpire(keys.leader, 60_000));
    const result = await enqueuer.enqueueTicks(fence, [{ spec: spec('renewed'), fireAtMs: T0 }]);
    expect(result.enqueued.map((t) => t.jobId)).toEqual([`renewed@${T0}`]);
  });

  it('refuses an expired lease and writes nothing', async () => {
    await admin.set(keys.leader, '7:node-a', 'PX', 30);
    await new Promise((r) => setTimeout(r, 60));
    await expect(enqueuer.enqueueTicks(fence, [{ spec: spec('x'), fireAtMs: T0 }])).rejects.toThrow(/found none/);
    expect(await jobCount()).toBe(0);
  });

  it('writes nothing when the schedules revision changed right before the batch', async () => {
    beforeNextWrite(redis, () => void redis.incr(keys.schedulesRev));
    const result = await enqueuer.enqueueTicks(fence, [{ spec: spec('raced'), fireAtMs: T0 }]);
    expect(result.stale).toBe(true);
    expect(result.skipped.map((s) => s.reason)).toEqual(['stale-schedules']);
    expect(await jobCount()).toBe(0);
    expect(await admin.hget(keys.cursor, 'raced')).toBeNull();
  });

  it('refuses to write when another leader was elected right before the batch', async () => {
    beforeNextWrite(redis, () => { void redis.incr(keys.term); void redis.set(keys.leader, '8:node-b'); }); // as acquireLease does
    await expect(enqueuer.enqueueTicks(fence, [{ spec: spec('raced'), fireAtMs: T0 }])).rejects.toThrow(/found '8:node-b'/);
    expect(await jobCount()).toBe(0);
  });

  it('still enqueues after a stale first batch sent when Redis had no script cache (no NOSCRIPT)', async () => {
    await admin.script('FLUSH');
    beforeNextWrite(redis, () => void redis.incr(keys.schedulesRev));
    expect((await enqueuer.enqueueTicks(fence, [{ spec: spec('first'), fireAtMs: T0 }])).stale).toBe(true);
    const result = await enqueuer.enqueueTicks({ ...fence, rev: 4 }, [{ spec: spec('second'), fireAtMs: T0 }]);
    expect(result.enqueued.map((t) => t.jobId)).toEqual([`second@${T0}`]);
    expect(await queue.getJob(`second@${T0}`)).toBeTruthy();
  });

  it('reloads its write script when Redis lost its script cache, losing no tick', async () => {
    await enqueuer.enqueueTicks(fence, [{ spec: spec('before'), fireAtMs: T0 }]);
    await admin.script('FLUSH');
    const result = await enqueuer.enqueueTicks(fence, [{ spec: spec('after'), fireAtMs: T0 }]);
    expect(result.enqueued.map((t) => t.jobId)).toEqual([`after@${T0}`]);
    expect(await queue.getJob(`after@${T0}`)).toBeTruthy();
  });

  it('skips a tick of an overlap=skip schedule while its previous job is queued, and resumes after it ends', async () => {
    const s = spec('lone', { overlap: 'skip' });
    const first = await enqueuer.enqueueTicks(fence, [{ spec: s, fireAtMs: T0 }, { spec: s, fireAtMs: T0 + 1000 }]);
    expect(first.enqueued.map((t) => t.fireAtMs)).toEqual([T0]);
    expect(first.skipped.map((x) => [x.tick.fireAtMs, x.reason])).toEqual([[T0 + 1000, 'overlap']]);
    expect(await admin.hget(keys.active, 'lone')).toBe(`lone@${T0}`);
    const second = await enqueuer.enqueueTicks(fence, [{ spec: s, fireAtMs: T0 + 2000 }]);
    expect(second.skipped.map((x) => x.reason)).toEqual(['overlap']);
    expect(await admin.hget(keys.cursor, 'lone')).toBe(String(T0 + 2000));
    await (await queue.getJob(`lone@${T0}`))!.remove();
    const third = await enqueuer.enqueueTicks(fence, [{ spec: s, fireAtMs: T0 + 3000 }]);
    expect(third.enqueued.map((t) => t.jobId)).toEqual([`lone@${T0 + 3000}`]);
  });

  it('decides each tick in Redis: at or before its cursor, overlapping a run still going or an earlier tick of the batch', async () => {
    const a = spec('a');
    await admin.hset(keys.cursor, 'a', String(T0 + 2000));
    const byCursor = await enqueuer.enqueueTicks(fence, [T0 + 1000, T0 + 2000, T0 + 3000].map((at) => ({ spec: a, fireAtMs: at })));
    expect(byCursor.enqueued.map((t) => t.fireAtMs)).toEqual([T0 + 3000]);
    expect(byCursor.skipped.map((x) => [x.tick.fireAtMs, x.reason])).toEqual([[T0 + 1000, 'already-enqueued'], [T0 + 2000, 'already-enqueued']]);
    expect(await admin.hget(keys.cursor, 'a')).toBe(String(T0 + 3000));

    const busy = spec('busy', { overlap: 'skip' }), done = spec('done', { overlap: 'skip' });
    const free = spec('free', { overlap: 'skip' }), many = spec('many');
    await admin.hset(keys.active, 'busy', 'busy@1', 'done', 'done@1');
    await admin.hset(keys.job('busy@1'), 'name', 'busy', 'processedOn', '1');
    await admin.hset(keys.job('done@1'), 'name', 'done', 'finishedOn', '2');
    const ticks = [busy, done, free, many].flatMap((s) => [T0, T0 + 1000].map((at) => ({ spec: s, fireAtMs: at })));
    const result = await enqueuer.enqueueTicks(fence, ticks);
    const label = (t: { spec: ScheduleSpec; fireAtMs: number }) => `${t.spec.name}+${t.fireAtMs - T0}`;
    expect(result.enqueued.map(label).sort()).toEqual(['done+0', 'free+0', 'many+0', 'many+1000']);
    expect(result.skipped.map((x) => `${label(x.tick)}:${x.reason}`).sort())
      .toEqual(['busy+0:overlap', 'busy+1000:overlap', 'done+1000:overlap', 'free+1000:overlap']);
    for (const name of ['busy', 'done', 'free', 'many']) expect(await admin.hget(keys.cursor, name)).toBe(String(T0 + 1000));
    expect(await admin.hgetall(keys.active)).toEqual({ busy: 'busy@1', done: `done@${T0}`, free: `free@${T0}` });
  });

  it('enqueues 2,000 ticks in batches, and none of them a second time', async () => {
    const specs = Array.from({ length: 1000 }, (_, i) => spec(`bulk-${i}`));
    const ticks = specs.flatMap((s) => [{ spec: s, fireAtMs: T0 }, { spec: s, fireAtMs: T0 + 1000 }]);
    const result = await enqueuer.enqueueTicks(fence, ticks);
    expect(result.enqueued).toHaveLength(2000);
    expect(await queue.getWaitingCount()).toBe(2000);
    expect(await admin.hlen(keys.cursor)).toBe(1000);
    expect(await admin.hget(keys.cursor, 'bulk-999')).toBe(String(T0 + 1000));
    const again = await enqueuer.enqueueTicks(fence, ticks);
    expect(again.enqueued).toHaveLength(0);
    expect(await queue.getWaitingCount()).toBe(2000);
  });

  describe('with batches of 3 ticks', () => {
    let small: FencedEnqueuer;
    beforeEach(() => { small = new FencedEnqueuer({ redis, queue, prefix: keys.tag.slice(1, -1), batchSize: 3 }); });
    const names = (ticks: { spec: ScheduleSpec; fireAtMs: number }[]) => ticks.map((t) => `${t.spec.name}@${t.fireAtMs}`);

    it('enqueues only the due ticks of a later batch whose cursors already moved', async () => {
      const specs = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((n) => spec(n));
      await admin.hset(keys.cursor, 'e', String(T0), 'g', String(T0 + 1000));
      const result = await small.enqueueTicks(fence, specs.map((s) => ({ spec: s, fireAtMs: T0 })));
      expect(names(result.enqueued)).toEqual(['a', 'b', 'c', 'd', 'f'].map((n) => `${n}@${T0}`));
      expect(names(result.skipped.map((x) => x.tick))).toEqual([`e@${T0}`, `g@${T0}`]);
      expect(await jobCount()).toBe(5);
      expect(await admin.hget(keys.cursor, 'g')).toBe(String(T0 + 1000));
    });

    it('keeps the batches written before a revision change, and writes nothing after it', async () => {
      const ticks = ['a', 'b', 'c', 'd', 'e'].map((n) => ({ spec: spec(n), fireAtMs: T0 }));
      beforeNextWrite(redis, () => beforeNextWrite(redis, () => void redis.incr(keys.schedulesRev)));
      const result = await small.enqueueTicks(fence, ticks);
      expect(result.stale).toBe(true);
      expect(names(result.enqueued)).toEqual(['a', 'b', 'c'].map((n) => `${n}@${T0}`));
      expect(result.skipped.map((x) => `${x.tick.spec.name}:${x.reason}`)).toEqual(['d:stale-schedules', 'e:stale-schedules']);
      expect(await jobCount()).toBe(3);
      expect(await admin.hget(keys.cursor, 'd')).toBeNull();
    });

    it('writes nothing more once another leader is elected while an earlier batch is in flight', async () => {
      const ticks = ['a', 'b', 'c', 'd', 'e'].map((n) => ({ spec: spec(n), fireAtMs: T0 }));
      beforeNextWrite(redis, () => beforeNextWrite(redis, () => { void redis.incr(keys.term); void redis.set(keys.leader, '8:node-b'); }));
      await expect(small.enqueueTicks(fence, ticks)).rejects.toBeInstanceOf(FencedOffError);
      expect(await admin.hkeys(keys.cursor)).toEqual(['a', 'b', 'c']);
      expect(await jobCount()).toBe(3);
    });

    it('writes every tick once when some schedules owe several instants across batches', async () => {
      const ticks = ['a', 'b'].flatMap((n) => [T0, T0 + 1000, T0 + 2000, T0 + 3000].map((at) => ({ spec: spec(n), fireAtMs: at })));
      const first = await small.enqueueTicks(fence, ticks);
      expect(first.enqueued).toHaveLength(8);
      const again = await small.enqueueTicks(fence, ticks);
      expect(again.enqueued).toEqual([]);
      expect(await jobCount()).toBe(8);
      expect(await admin.hget(keys.cursor, 'b')).toBe(String(T0 + 3000));
    });

    it('writes the ticks due after now in batches of aheadBatchSize, the ones due already in batches of batchSize', async () => {
      const paced = new FencedEnqueuer({ redis, queue, prefix: keys.tag.slice(1, -1), batchSize: 3, aheadBatchSize: 2 });
      const write = redis as unknown as { writeTicks: (...args: unknown[]) => Promise<unknown> };
      const original = write.writeTicks;
      let calls = 0;
      write.writeTicks = (...args: unknown[]) => { calls++; return original.apply(redis, args); };
      try {
        const aheadAt = Math.ceil(Date.now() / 1000) * 1000 + 60_000;
        const ticks = ['a', 'b', 'c', 'd'].map((n) => ({ spec: spec(n), fireAtMs: T0 }))
          .concat(['e', 'f', 'g', 'h', 'i'].map((n) => ({ spec: spec(n), fireAtMs: aheadAt })));
        const result = await paced.enqueueTicks(fence, ticks);
        expect(result.enqueued).toHaveLength(9);
        // [a b c] [d e f] due-sized (each begins with a due tick), then [g h] [i] ahead-sized: 3 calls of 3 would be 3, 5 of 2 would be 5
        expect(calls).toBe(4);
        expect(await queue.getDelayedCount()).toBe(5);
        expect(await queue.getWaitingCount()).toBe(4);
      } finally {
        write.writeTicks = original;
      }
    });

    it('refuses a batch size below 1', () => {
      expect(() => new FencedEnqueuer({ redis, queue, prefix: keys.tag.slice(1, -1), batchSize: 0 })).toThrow(/batchSize/);
      expect(() => new FencedEnqueuer({ redis, queue, prefix: keys.tag.slice(1, -1), aheadBatchSize: 0 })).toThrow(/aheadBatchSize/);
    });
  });

  it('triggers a manual run with its own job id, unfenced', async () => {
    await admin.del(keys.leader);
    const jobId = await enqueuer.triggerNow(spec('manual'), T0 + 5);
    expect(jobId).toMatch(new RegExp(`^manual@manual-${T0 + 5}-[0-9a-f]{8}$`));
    const job = await queue.getJob(jobId);
    expect(job?.data).toMatchObject({ trigger: 'manual', fencingToken: 0, scheduledFor: new Date(T0 + 5).toISOString() });
    expect(await admin.zscore(keys.runs('manual'), jobId)).toBe(String(T0 + 5));
  });

  it('triggers a manual run through any queue of the deployment with the static helper', async () => {
    const other = await connectTo(server);
    const otherQueue = new Queue(keys.queueName, { connection: other, prefix: keys.tag });
    const jobId = await FencedEnqueuer.triggerNow(otherQueue, spec('viaother'), T0);
    expect((await queue.getJob(jobId))?.data.trigger).toBe('manual');
    expect(await admin.zscore(keys.runs('viaother'), jobId)).toBe(String(T0));
    await otherQueue.close();
    await other.quit();
  });

  it('keeps ioredis from replaying a batch on a new socket after a reconnect', () => {
    expect(redis.options.autoResendUnfulfilledCommands).toBe(false);
  });

  it('works with a revision written by the ScheduleStore', async () => {
    const store = new ScheduleStore({ redis: admin, prefix: keys.tag.slice(1, -1) });
    const created = await store.create(spec('stored'));
    const rev = await store.rev();
    const tickAt = Date.parse(created.createdAt) + 1000;
    const result = await enqueuer.enqueueTicks({ ...fence, rev }, [{ spec: created, fireAtMs: tickAt }]);
    expect(result.enqueued).toHaveLength(1);
  });
});

/**
 * Runs `sideEffect` on the enqueuer's own connection right before its next
 * writeTicks call is sent, so it lands in Redis just before that batch. (The
 * next batch's call is built while the previous one runs, so the hook is on
 * sending, not on building.)
 */
function beforeNextWrite(redis: Redis, sideEffect: () => void): void {
  const raw = redis as unknown as { writeTicks: (...args: unknown[]) => unknown };
  const original = raw.writeTicks;
  raw.writeTicks = function (this: unknown, ...args: unknown[]) {
    raw.writeTicks = original;
    sideEffect();
    return original.apply(this, args);
  };
}
