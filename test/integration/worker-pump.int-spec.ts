import { join } from 'node:path';
import { Job, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { defineLuaCommands, tickJobId } from '@lib/common';
import type { JobContext } from '@lib/worker';
import { connectTo, startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { jobData, until, WorkerHarness } from './fixtures/worker-harness';

jest.setTimeout(30_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LUA_DIR = join(__dirname, '../../libs/worker/src/lua');

/** StreamEvent: one entry of BullMQ's events stream, its fields as an object. */
type StreamEvent = Record<string, string>;

/** streamEvents reads the queue's whole events stream, oldest first. */
async function streamEvents(h: WorkerHarness): Promise<StreamEvent[]> {
  const entries = await h.redis.xrange(h.queue.keys.events, '-', '+');
  return entries.map(([, fields]) => {
    const e: StreamEvent = {};
    for (let i = 0; i + 1 < fields.length; i += 2) e[fields[i]] = fields[i + 1];
    return e;
  });
}

/** at: the harness's job data for schedule `schedule` at `ms`, run by `handler`. */
const at = (schedule: string, ms: number, handler: string) =>
  jobData({ schedule, handler, scheduledFor: new Date(ms).toISOString() });

// The JobPump (finishAndTake-8.lua) takes and completes jobs in place of BullMQ's Worker:
// what it writes must read back through BullMQ as a BullMQ Worker's data would.
describe('BatonWorker job pump against real Redis', () => {
  let server: RedisServerHandle;
  let h: WorkerHarness;

  beforeAll(async () => { server = await startRedisServer(); });
  afterAll(async () => server?.cleanup());
  beforeEach(async () => { h = await WorkerHarness.create(server, 'pump'); });
  afterEach(async () => h?.close());

  it('writes a completed job that BullMQ reads back as completed: Job, state, counts, lock, active list, events, QueueEvents', async () => {
    const queueEvents = new QueueEvents(h.keys.queueName, {
      connection: { url: server.url, maxRetriesPerRequest: null }, prefix: h.keys.tag,
    });
    try {
      await queueEvents.waitUntilReady();
      const { events } = await h.worker({ nodeId: 'node-compat' });
      const before = Date.now();
      const jobId = await h.enqueue(tickJobId('compat', 1_000), at('compat', 1_000, 'log'));
      const added = await Job.fromId(h.queue, jobId);
      // BullMQ's own listener sees the 'completed' event with the job's return value
      expect(await added!.waitUntilFinished(queueEvents, 10_000)).toBeNull();

      const job = (await Job.fromId(h.queue, jobId))!;
      expect(job).toMatchObject({ id: jobId, name: 'compat', attemptsMade: 1, attemptsStarted: 1, processedBy: 'node-compat', returnvalue: null });
      expect(job.processedOn).toBeGreaterThanOrEqual(before);
      expect(job.finishedOn).toBeGreaterThanOrEqual(job.processedOn!);
      expect(job.finishedOn).toBeLessThanOrEqual(Date.now());
      expect(job.failedReason).toBeUndefined();
      expect(await job.isCompleted()).toBe(true);
      expect(await h.queue.getJobState(jobId)).toBe('completed');
      expect(await h.queue.getJobCounts()).toMatchObject({ completed: 1, active: 0, waiting: 0, delayed: 0, failed: 0, prioritized: 0 });
      expect((await h.queue.getCompleted()).map((j) => j.id)).toEqual([jobId]);
      expect(await h.redis.zscore(h.queue.keys.completed, jobId)).toBe(String(job.finishedOn));
      expect(await h.redis.exists(`${h.keys.job(jobId)}:lock`)).toBe(0);
      expect(await h.redis.llen(h.queue.keys.active)).toBe(0);
      expect(await h.redis.scard(h.queue.keys.stalled)).toBe(0);

      const forJob = (await streamEvents(h)).filter((e) => e.jobId === jobId);
      expect(forJob.map((e) => e.event)).toEqual(['added', 'waiting', 'active', 'completed']);
      expect(forJob[2]).toMatchObject({ prev: 'waiting' });
      expect(forJob[3]).toMatchObject({ returnvalue: 'null', prev: 'active' });
      expect(events('job.lock-lost')).toEqual([]);
    } finally {
      await queueEvents.close();
    }
  });

  it('completes each of 2,000 jobs exactly once at concurrency 10, while they are still being added', async () => {
    const calls = new Map<string, number>();
    let running = 0;
    let maxRunning = 0;
    const { events } = await h.worker({ nodeId: 'node-bulk', concurrency: 10, handlers: {
      count: async (ctx: JobContext) => {
        calls.set(ctx.jobId, (calls.get(ctx.jobId) ?? 0) + 1);
        maxRunning = Math.max(maxRunning, ++running);
        await sleep(calls.size % 3); // 0-2 ms: attempts finish out of order
        running--;
      },
    } });
    const ids = Array.from({ length: 2_000 }, (_, i) => tickJobId('bulk', (i + 1) * 1_000));
    for (let i = 0; i < ids.length; i += 250) { // the worker takes while later chunks arrive
      await h.queue.addBulk(ids.slice(i, i + 250).map((jobId, j) => ({
        name: 'bulk', data: at('bulk', (i + j + 1) * 1_000, 'count'), opts: { jobId },
      })));
    }

    await until('2,000 jobs completed', async () => (await h.redis.zcard(h.queue.keys.completed)) === ids.length, 20_000);
    await sleep(300); // a second run or a late event would show up now
    expect(calls.size).toBe(ids.length);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    expect(maxRunning).toBeLessThanOrEqual(10);
    expect(maxRunning).toBeGreaterThan(1);
    expect(new Set(await h.redis.zrange(h.queue.keys.completed, '0', '-1'))).toEqual(new Set(ids));
    expect(await h.queue.getJobCounts()).toMatchObject({ completed: ids.length, active: 0, waiting: 0, delayed: 0, failed: 0 });

    const stream = await streamEvents(h);
    const countOf = (event: string) => {
      const per = new Map<string, number>();
      for (const e of stream) if (e.event === event) per.set(e.jobId, (per.get(e.jobId) ?? 0) + 1);
      return per;
    };
    for (const event of ['active', 'completed']) {
      const per = countOf(event);
      expect(per.size).toBe(ids.length);
      expect([...per.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(per.keys())).toEqual(new Set(ids));
    }

    const pipe = h.redis.pipeline();
    for (const id of ids) pipe.hmget(h.keys.job(id), 'atm', 'ats', 'pb', 'returnvalue');
    const fields = (await pipe.exec())!.map(([, v]) => (v as string[]).join(','));
    expect(new Set(fields)).toEqual(new Set(['1,1,node-bulk,null']));
    expect(await h.redis.keys(`${h.keys.jobsPrefix}*:lock`)).toEqual([]);
    expect(events('job.lock-lost')).toEqual([]);
    expect(events('worker.error')).toEqual([]);
  });

  it('runs a delayed job on an idle worker shortly after it is due, and not before, with no one else promoting it', async () => {
    const startedAt = new Map<string, number>();
    // on-demand: no stalled checker of its own; only the pump's script can promote the job
    await h.worker({ nodeId: 'node-delay', stalledCheck: 'on-demand', handlers: { stamp: (ctx: JobContext) => { startedAt.set(ctx.jobId, Date.now()); } } });
    await sleep(300); // nothing to take: the pump blocks on the marker (up to its 30 s drain delay)
    const jobId = await h.enqueue(tickJobId('later', 1_000), at('later', 1_000, 'stamp'), { delay: 500 });
    const job = (await Job.fromId(h.queue, jobId))!;
    const dueMs = job.timestamp + 500;
    expect(await h.queue.getJobState(jobId)).toBe('delayed');

    await sleep(Math.max(0, dueMs - Date.now() - 150));
    expect(startedAt.has(jobId)).toBe(false); // 150 ms before it is due
    expect(await h.queue.getJobState(jobId)).toBe('delayed');

    await until('delayed job ran', () => startedAt.has(jobId), 5_000);
    expect(startedAt.get(jobId)!).toBeGreaterThanOrEqual(dueMs);
    expect(startedAt.get(jobId)! - dueMs).toBeLessThan(1_000); // not the 30 s drain delay
    await until('delayed job completed', async () => (await h.queue.getJobState(jobId)) === 'completed');
    const done = (await Job.fromId(h.queue, jobId))!;
    expect(done.processedOn).toBeGreaterThanOrEqual(dueMs);
    expect(done).toMatchObject({ attemptsMade: 1, processedBy: 'node-delay' });
    const forJob = (await streamEvents(h)).filter((e) => e.jobId === jobId).map((e) => [e.event, e.prev ?? '']);
    expect(forJob).toEqual([['added', ''], ['delayed', ''], ['waiting', 'delayed'], ['active', 'waiting'], ['completed', 'active']]);
  });

  it('runs the next delayed job on time after an earlier delayed job ran', async () => {
    const startedAt = new Map<string, number>();
    await h.worker({ nodeId: 'node-delay2', stalledCheck: 'on-demand', handlers: { stamp: (ctx: JobContext) => { startedAt.set(ctx.jobId, Date.now()); } } });
    await sleep(300);
    const first = await h.enqueue(tickJobId('ahead', 1_000), at('ahead', 1_000, 'stamp'), { delay: 400 });
    const second = await h.enqueue(tickJobId('ahead', 2_000), at('ahead', 2_000, 'stamp'), { delay: 1_200 });
    const due = async (id: string, delay: number) => (await Job.fromId(h.queue, id))!.timestamp + delay;
    const firstDue = await due(first, 400);
    const secondDue = await due(second, 1_200);

    await until('first delayed job ran', () => startedAt.has(first), 5_000);
    expect(startedAt.get(first)! - firstDue).toBeLessThan(1_000);
    await until('second delayed job ran', () => startedAt.has(second), 5_000);
    expect(startedAt.get(second)!).toBeGreaterThanOrEqual(secondDue);
    expect(startedAt.get(second)! - secondDue).toBeLessThan(1_000);
  });

  it('runs a delayed job on time while another job of the same worker is still running', async () => {
    const startedAt = new Map<string, number>();
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    await h.worker({ nodeId: 'node-busy', concurrency: 4, stalledCheck: 'on-demand', handlers: {
      stamp: (ctx: JobContext) => { startedAt.set(ctx.jobId, Date.now()); },
      hold: async (ctx: JobContext) => { startedAt.set(ctx.jobId, Date.now()); await gate; },
    } });
    try {
      await sleep(300);
      const tick = await h.enqueue(tickJobId('tick', 1_000), at('tick', 1_000, 'stamp'), { delay: 800 });
      const tickDue = (await Job.fromId(h.queue, tick))!.timestamp + 800;
      await sleep(150);
      const long = await h.enqueue(tickJobId('long', 1_000), at('long', 1_000, 'hold'));
      await until('long job running', () => startedAt.has(long));
      // three of the four slots are free: the tick must not wait for the long job (or the 30 s drain delay)
      await until('delayed job ran while the long one runs', () => startedAt.has(tick), 4_000);
      expect(startedAt.get(tick)!).toBeGreaterThanOrEqual(tickDue);
      expect(startedAt.get(tick)! - tickDue).toBeLessThan(1_000);
    } finally {
      release();
    }
  });

  it('retries a failed attempt through BullMQ after its fixed backoff, then completes it (attemptsMade 2)', async () => {
    const starts: Array<[number, number]> = [];
    const { events } = await h.worker({ nodeId: 'node-retry', handlers: {
      flaky: (ctx: JobContext) => {
        starts.push([ctx.attempt, Date.now()]);
        if (ctx.attempt === 1) throw new Error('first attempt breaks');
      },
    } });
    const jobId = await h.enqueue(tickJobId('flaky', 1_000), at('flaky', 1_000, 'flaky'), { attempts: 2, backoff: { type: 'fixed', delay: 300 } });

    await until('job completed', async () => (await h.queue.getJobState(jobId)) === 'completed');
    expect(starts.map(([attempt]) => attempt)).toEqual([1, 2]);
    const gap = starts[1][1] - starts[0][1];
    expect(gap).toBeGreaterThanOrEqual(300);
    expect(gap).toBeLessThan(1_500);
    const job = (await Job.fromId(h.queue, jobId))!;
    expect(job).toMatchObject({ attemptsMade: 2, attemptsStarted: 2, processedBy: 'node-retry', returnvalue: null });
    expect(job.finishedOn).toBeGreaterThanOrEqual(job.processedOn!);
    expect(await h.queue.getJobCounts()).toMatchObject({ completed: 1, failed: 0, delayed: 0, active: 0, waiting: 0 });

    const failed = events('job.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0].level).toBe('warn');
    expect(failed[0].facts).toMatchObject({ jobId, attempt: 1, maxAttempts: 2, willRetry: true, error: 'first attempt breaks', node: 'node-retry' });
    expect(events('job.completed').map((l) => l.facts.attempt)).toEqual([2]);
    // BullMQ's moveToFailed put it in delayed; the pump's script promoted it ('waiting', prev delayed) and took it again
    const forJob = (await streamEvents(h)).filter((e) => e.jobId === jobId).map((e) => [e.event, e.prev ?? '']);
    expect(forJob).toEqual([
      ['added', ''], ['waiting', ''], ['active', 'waiting'], ['delayed', ''], ['waiting', 'delayed'], ['active', 'waiting'], ['completed', 'active'],
    ]);
  });

  it('does not complete a job whose lock was lost while it ran, warns job.lock-lost, and a stalled sweep gives it back to run again', async () => {
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    let calls = 0;
    const { worker, events } = await h.worker({ nodeId: 'node-lost', stalledCheck: 'on-demand', stalledIntervalMs: 300, handlers: {
      hold: async () => { if (++calls === 1) await gate; },
    } });
    const jobId = await h.enqueue(tickJobId('lost', 1_000), at('lost', 1_000, 'hold'));
    const lockKey = `${h.keys.job(jobId)}:lock`;
    await until('job running', () => worker.runningCount() === 1);
    expect(await h.redis.del(lockKey)).toBe(1);

    // the renewal (every lockMs / 2 = 1 s) finds the lock gone and does not recreate it
    const renewal = await until('lock-lost warning from the renewal', () => events('job.lock-lost')[0], 3_000);
    expect(renewal.facts).toEqual({ jobId });
    expect(await h.redis.exists(lockKey)).toBe(0);

    release();
    const refused = (await until('lock-lost warning from the completion', () => events('job.lock-lost').find((l) => l.facts.code !== undefined), 3_000))!;
    expect(refused.level).toBe('warn');
    expect(refused.facts).toEqual({ jobId, code: -2 });
    await sleep(300);
    expect(await h.queue.getJobState(jobId)).toBe('active');
    expect(await h.redis.zscore(h.queue.keys.completed, jobId)).toBeNull();
    const job = (await Job.fromId(h.queue, jobId))!;
    expect(job.finishedOn).toBeUndefined();
    expect(job.attemptsMade).toBe(0);
    expect((await streamEvents(h)).filter((e) => e.jobId === jobId && e.event === 'completed')).toEqual([]);
    expect(await h.redis.lrange(h.queue.keys.active, 0, -1)).toEqual([jobId]);

    // at-least-once: a stalled check gives it back to wait, and it runs again
    const sweep = new AbortController();
    const sweeping = worker.sweepStalled(sweep.signal);
    await until('job re-run and completed', async () => (await h.queue.getJobState(jobId)) === 'completed', 10_000);
    sweep.abort();
    await sweeping;
    expect(calls).toBe(2);
    expect(events('job.stalled').map((l) => l.facts)).toEqual([{ jobId }]);
    expect(await Job.fromId(h.queue, jobId)).toMatchObject({ attemptsStarted: 2, attemptsMade: 1, stalledCounter: 1, processedBy: 'node-lost' });
  });

  it('limitConcurrency(0) on a running, idle worker takes nothing while jobs wait; limitConcurrency(n) resumes at n', async () => {
    const started: string[] = [];
    let running = 0;
    let maxRunning = 0;
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const { worker } = await h.worker({ nodeId: 'node-limit', concurrency: 4, handlers: {
      hold: async (ctx: JobContext) => {
        started.push(ctx.jobId);
        maxRunning = Math.max(maxRunning, ++running);
        await gate;
        running--;
      },
    } });
    const warm = await h.enqueue(tickJobId('warm', 1_000), at('warm', 1_000, 'log'));
    await until('a first job completed', async () => (await h.queue.getJobState(warm)) === 'completed');
    await sleep(200); // idle: blocked on the marker

    worker.limitConcurrency(0);
    const ids = await Promise.all([1, 2, 3, 4, 5].map((i) => h.enqueue(tickJobId('held', i * 1_000), at('held', i * 1_000, 'hold'))));
    await sleep(1_000);
    expect(started).toEqual([]);
    expect(await h.queue.getJobCounts()).toMatchObject({ waiting: 5, active: 0 });
    expect(await h.redis.hget(h.keys.job(ids[0]), 'ats')).toBeNull(); // not even taken and handed back

    worker.limitConcurrency(2);
    await until('two jobs running', () => started.length === 2, 3_000);
    await sleep(500);
    expect(started).toHaveLength(2);
    expect(await h.queue.getJobCounts()).toMatchObject({ waiting: 3, active: 2 });
    release();
    await until('every job completed', async () => (await Promise.all(ids.map((id) => h.queue.getJobState(id)))).every((s) => s === 'completed'));
    expect(maxRunning).toBe(2);
    expect(started.slice().sort()).toEqual(ids.slice().sort());
  });
});

// finishAndTake-8.lua called directly: retention and the per-job codes, with arguments no worker would pass.
describe('finishAndTake-8.lua', () => {
  let server: RedisServerHandle;
  let h: WorkerHarness;
  let redis: Redis;

  type Reply = [number[], string[], number];
  interface Call { now: number; take?: number; token?: string; lockMs?: number; keepAgeSec?: number; keepCount?: number; done?: string[] }
  const call = (c: Call): Promise<Reply> => {
    const q = h.queue.keys;
    return (redis as unknown as { finishAndTake(...args: (string | number)[]): Promise<Reply> }).finishAndTake(
      q.wait, q.active, q.delayed, q.meta, q.marker, q.events, q.stalled, q.completed,
      h.keys.jobsPrefix, c.now, c.take ?? 0, c.token ?? 'tok', c.lockMs ?? 30_000, 'script-node',
      c.keepAgeSec ?? 3_600, c.keepCount ?? 1_000, ...(c.done ?? []),
    );
  };
  /** addJobs adds jobs `<name>1`..`<name>n` (the harness's job shape) to wait. */
  const addJobs = async (name: string, n: number) => {
    const ids = Array.from({ length: n }, (_, i) => `${name}${i + 1}`);
    await h.queue.addBulk(ids.map((jobId, i) => ({ name, data: at(name, (i + 1) * 1_000, 'log'), opts: { jobId } })));
    return ids;
  };
  const completedIds = () => redis.zrange(h.queue.keys.completed, '0', '-1');
  const exists = (id: string) => redis.exists(h.keys.job(id));

  beforeAll(async () => {
    server = await startRedisServer();
    redis = await connectTo(server);
    defineLuaCommands(redis, LUA_DIR);
  });
  afterAll(async () => {
    await redis?.quit();
    await server?.cleanup();
  });
  beforeEach(async () => { h = await WorkerHarness.create(server, 'script'); });
  afterEach(async () => h?.close());

  it('takes waiting jobs as moveToActive does: lock with token and PX, active list, processedOn, pb, ats, atm returned', async () => {
    const ids = await addJobs('t', 3);
    const now = Date.now();
    const [codes, taken, next] = await call({ now, take: 5, token: 'tok-a', lockMs: 20_000 });
    expect(codes).toEqual([]);
    expect(next).toBe(0); // something was taken
    expect(taken.filter((_, i) => i % 3 === 0)).toEqual(ids); // FIFO
    expect(taken.filter((_, i) => i % 3 === 2)).toEqual(['0', '0', '0']);
    expect(JSON.parse(taken[1])).toEqual(at('t', 1_000, 'log'));
    expect(await redis.lrange(h.queue.keys.active, 0, -1)).toEqual(ids.slice().reverse());
    expect(await redis.llen(h.queue.keys.wait)).toBe(0);
    for (const id of ids) {
      expect(await redis.get(`${h.keys.job(id)}:lock`)).toBe('tok-a');
      const pttl = await redis.pttl(`${h.keys.job(id)}:lock`);
      expect(pttl).toBeGreaterThan(19_000);
      expect(pttl).toBeLessThanOrEqual(20_000);
      expect(await redis.hmget(h.keys.job(id), 'processedOn', 'pb', 'ats')).toEqual([String(now), 'script-node', '1']);
      expect(await h.queue.getJobState(id)).toBe('active');
    }
    const job = (await Job.fromId(h.queue, ids[0]))!;
    expect(job).toMatchObject({ processedOn: now, processedBy: 'script-node', attemptsStarted: 1, attemptsMade: 0 });
  });

  it('keeps only the newest keepCount completed jobs and deletes the hashes of the others', async () => {
    await addJobs('r', 7);
    const t0 = Date.now();
    const [, taken] = await call({ now: t0, take: 7, token: 'tok-r' });
    expect(taken.length / 3).toBe(7);
    const keep = { keepCount: 3, token: 'tok-r' };
    const finish = async (now: number, ...jobIds: string[]) => {
      const [codes] = await call({ now, ...keep, done: jobIds.flatMap((id) => [id, 'tok-r', '1']) });
      expect(codes).toEqual(jobIds.map(() => 0));
      expect(await redis.zcard(h.queue.keys.completed)).toBeLessThanOrEqual(3);
    };

    await finish(t0 + 1, 'r1');
    await finish(t0 + 2, 'r2', 'r3');
    expect(new Set(await completedIds())).toEqual(new Set(['r1', 'r2', 'r3']));
    await finish(t0 + 3, 'r4');
    expect(await completedIds()).toEqual(['r2', 'r3', 'r4']);
    expect(await exists('r1')).toBe(0);
    await finish(t0 + 4, 'r5', 'r6', 'r7');
    expect(new Set(await completedIds())).toEqual(new Set(['r5', 'r6', 'r7']));
    for (const id of ['r1', 'r2', 'r3', 'r4']) expect(await exists(id)).toBe(0);
    for (const id of ['r5', 'r6', 'r7']) {
      expect(await exists(id)).toBe(1);
      expect(await redis.hmget(h.keys.job(id), 'finishedOn', 'atm', 'returnvalue')).toEqual([String(t0 + 4), '1', 'null']);
    }
    expect(await h.queue.getJobCounts()).toMatchObject({ completed: 3, active: 0 });
    expect(await h.queue.getJob('r1')).toBeUndefined();
    expect(await redis.keys(`${h.keys.jobsPrefix}r*:lock`)).toEqual([]);
  });

  it('removes completed jobs older than keepAgeSec (boundary inclusive, as BullMQ) when a later call completes one', async () => {
    await addJobs('a', 4);
    const t0 = Date.now();
    await call({ now: t0, take: 4, token: 'tok-a' });
    const finish = (now: number, id: string, keepAgeSec = 3_600) => call({ now, token: 'tok-a', keepAgeSec, keepCount: 100, done: [id, 'tok-a', '1'] });

    await finish(t0, 'a1');
    await finish(t0 + 1_001, 'a2');
    expect(await completedIds()).toEqual(['a1', 'a2']);
    // now 6 s in the future, keep 5 s: a1 (t0) is older than now - 5 s, a2 (t0 + 1001) is not
    expect((await finish(t0 + 6_000, 'a3', 5))[0]).toEqual([0]);
    expect(await completedIds()).toEqual(['a2', 'a3']);
    expect(await exists('a1')).toBe(0);
    expect(await exists('a2')).toBe(1);
    // 1 ms later a2 is exactly keepAgeSec old: removed
    await finish(t0 + 6_001, 'a4', 5);
    expect(await completedIds()).toEqual(['a3', 'a4']);
    expect(await exists('a2')).toBe(0);
    expect(await exists('a3')).toBe(1);
  });

  it('refuses to complete a job it does not hold: -2 lock gone, -6 other token, -3 not active; completes the rest of the call', async () => {
    await addJobs('c', 5);
    const now = Date.now();
    await call({ now, take: 5, token: 'tok-c' });
    const lock = (id: string) => `${h.keys.job(id)}:lock`;
    await redis.del(lock('c2'));
    await redis.set(lock('c3'), 'someone-else', 'PX', 30_000);
    await redis.lrem(h.queue.keys.active, 0, 'c4');

    const done = ['nope', 'c1', 'c2', 'c3', 'c4', 'c5'].flatMap((id) => [id, 'tok-c', '1']);
    const [codes] = await call({ now: now + 10, token: 'tok-c', done });
    expect(codes).toEqual([-2, 0, -2, -6, -3, 0]);
    expect(await exists('nope')).toBe(0); // a job that is gone is not recreated
    expect(new Set(await completedIds())).toEqual(new Set(['c1', 'c5']));
    expect(await redis.get(lock('c3'))).toBe('someone-else'); // another holder's lock is left alone
    expect(await redis.lrange(h.queue.keys.active, 0, -1)).toEqual(expect.arrayContaining(['c2', 'c3']));
    for (const id of ['c2', 'c3', 'c4']) expect(await redis.hget(h.keys.job(id), 'finishedOn')).toBeNull();
    const completedEvents = (await streamEvents(h)).filter((e) => e.event === 'completed').map((e) => e.jobId);
    expect(completedEvents.sort()).toEqual(['c1', 'c5']);
  });

  it('takes nothing from a paused queue or past the global concurrency, and returns the earliest delayed job\'s due time when it takes fewer than asked', async () => {
    await addJobs('p', 4);
    await h.queue.pause();
    const now = Date.now();
    let [, taken] = await call({ now, take: 4 });
    expect(taken).toEqual([]);
    await h.queue.resume();
    await h.queue.setGlobalConcurrency(3);
    [, taken] = await call({ now, take: 2 });
    expect(taken.length / 3).toBe(2);
    [, taken] = await call({ now, take: 4 }); // 2 active, global 3: one more
    expect(taken.length / 3).toBe(1);
    [, taken] = await call({ now, take: 4 });
    expect(taken).toEqual([]);
    expect(await redis.llen(h.queue.keys.active)).toBe(3);

    await h.queue.setGlobalConcurrency(100);
    const d1 = await h.queue.add('d', at('d', 1_000, 'log'), { jobId: 'd1', delay: 60_000 });
    const d2 = await h.queue.add('d', at('d', 2_000, 'log'), { jobId: 'd2', delay: 120_000 });
    const ids = (reply: string[]) => reply.filter((_, i) => i % 3 === 0);
    let next: number;
    [, taken, next] = await call({ now, take: 1 }); // as many as asked: no next delayed
    expect(ids(taken)).toEqual(['p4']);
    expect(next).toBe(0);
    [, taken, next] = await call({ now, take: 4 });
    expect(taken).toEqual([]);
    expect(next).toBe(d1.timestamp + 60_000);
    [, taken, next] = await call({ now: d1.timestamp + 60_000, take: 4 }); // d1 due: promoted and taken; fewer than asked: d2 next
    expect(ids(taken)).toEqual(['d1']);
    expect(next).toBe(d2.timestamp + 120_000);
    [, taken, next] = await call({ now: d2.timestamp + 120_000 - 1, take: 4 }); // 1 ms early: not promoted
    expect(taken).toEqual([]);
    expect(await h.queue.getJobState('d2')).toBe('delayed');
    [, taken, next] = await call({ now: d2.timestamp + 120_000, take: 1 });
    expect(ids(taken)).toEqual(['d2']);
    expect(next).toBe(0);
  });
});
