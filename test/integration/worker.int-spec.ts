import { tickJobId } from '@lib/common';
import { JobTimeoutError, RunHistory, type JobContext } from '@lib/worker';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { jobData, startReceiver, until, WorkerHarness } from './fixtures/worker-harness';

jest.setTimeout(30_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('BatonWorker against real Redis', () => {
  let server: RedisServerHandle;
  let h: WorkerHarness;
  let rx: Awaited<ReturnType<typeof startReceiver>> | undefined;

  beforeAll(async () => { server = await startRedisServer(); });
  afterAll(async () => server?.cleanup());
  beforeEach(async () => { h = await WorkerHarness.create(server, 'core'); });
  afterEach(async () => {
    await h?.close();
    await rx?.close();
    rx = undefined;
  });

  it('runs a job through the http handler with the exact body and Idempotency-Key, then records it completed', async () => {
    rx = await startReceiver(() => ({ status: 200, body: 'ok' }));
    const fireAtMs = Date.parse('2026-11-27T01:30:00.000Z');
    const jobId = tickJobId('nightly-report', fireAtMs);
    const { events } = await h.worker({ nodeId: 'node-http' });
    await h.enqueue(jobId, jobData({
      schedule: 'nightly-report', handler: 'http', fencingToken: 42,
      payload: { url: rx.url, method: 'POST', headers: { 'X-Env': 'test' }, body: { kind: 'daily' } },
    }), { attempts: 3 });

    await until('job completed', async () => (await h.jobState(jobId)) === 'completed');
    expect(await h.redis.exists(`{${h.prefix}}:jobs:${jobId}`)).toBe(1); // BullMQ keys carry the hash tag
    expect(rx.seen).toHaveLength(1);
    expect(rx.seen[0].headers['idempotency-key']).toBe(jobId);
    expect(rx.seen[0].headers['x-env']).toBe('test');
    expect(rx.seen[0].body).toBe(JSON.stringify({
      schedule: 'nightly-report', scheduledFor: '2026-11-27T01:30:00.000Z', jobId, attempt: 1, fencingToken: 42,
      payload: { kind: 'daily' },
    }));
    const [run] = await new RunHistory({ redis: h.redis, prefix: h.prefix }).list('nightly-report');
    expect(run).toMatchObject({ jobId, state: 'completed', attempts: 1, node: 'node-http', error: null, scheduledFor: '2026-11-27T01:30:00.000Z' });
    expect(Date.parse(run.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(run.startedAt!));
    await until('job.completed logged', () => events('job.completed').length === 1);
    expect(events('job.completed')[0].facts).toMatchObject({ schedule: 'nightly-report', jobId, durationMs: expect.any(Number) });
  });

  it('retries a non-2xx answer per attempts and backoff, then fails with the attempts and error in run history', async () => {
    rx = await startReceiver(() => ({ status: 500, body: 'database is down' }));
    const jobId = tickJobId('flaky', 1_000);
    const { events } = await h.worker();
    await h.enqueue(jobId, jobData({ schedule: 'flaky', handler: 'http', scheduledFor: new Date(1_000).toISOString(), payload: { url: rx.url } }), {
      attempts: 3, backoff: { type: 'fixed', delay: 150 },
    });

    await until('job failed', async () => (await h.jobState(jobId)) === 'failed');
    expect(rx.seen.map((r) => JSON.parse(r.body).attempt)).toEqual([1, 2, 3]);
    expect(new Set(rx.seen.map((r) => r.headers['idempotency-key']))).toEqual(new Set([jobId]));
    const [run] = await new RunHistory({ redis: h.redis, prefix: h.prefix }).list('flaky', 5);
    expect(run).toMatchObject({ jobId, state: 'failed', attempts: 3 });
    expect(run.error).toContain('answered 500: database is down');
    const failed = events('job.failed').map((l) => l.facts);
    expect(failed.map((f) => [f.attempt, f.willRetry])).toEqual([[1, true], [2, true], [3, false]]);
    expect(failed[2]).toMatchObject({ schedule: 'flaky', jobId, error: expect.stringContaining('500') });
  });

  it('shows a retrying run with the last error between attempts', async () => {
    rx = await startReceiver((_req, n) => (n === 1 ? { status: 502, body: 'bad gateway' } : { status: 200 }));
    const jobId = tickJobId('second-try', 2_000);
    const history = new RunHistory({ redis: h.redis, prefix: h.prefix });
    await h.worker();
    await h.enqueue(jobId, jobData({ schedule: 'second-try', handler: 'http', scheduledFor: new Date(2_000).toISOString(), payload: { url: rx.url } }), {
      attempts: 2, backoff: { type: 'fixed', delay: 1_500 },
    });
    const retrying = await until('retrying state', async () => {
      const run = await history.get(jobId);
      return run?.state === 'retrying' ? run : null;
    });
    expect(retrying).toMatchObject({ attempts: 1, error: expect.stringContaining('502: bad gateway') });
    await until('job completed', async () => (await history.get(jobId))?.state === 'completed');
    expect(await history.get(jobId)).toMatchObject({ attempts: 2, error: null });
  });

  it('fails an attempt at timeoutMs even when the handler ignores its signal', async () => {
    const signals: AbortSignal[] = [];
    const stubborn = (ctx: JobContext) => { signals.push(ctx.signal); return new Promise(() => undefined); };
    await h.worker({ handlers: { stubborn } });
    const jobId = tickJobId('stubborn', 3_000);
    const startedAt = Date.now();
    await h.enqueue(jobId, jobData({ schedule: 'stubborn', handler: 'stubborn', scheduledFor: new Date(3_000).toISOString(), timeoutMs: 300 }));

    await until('job failed', async () => (await h.jobState(jobId)) === 'failed', 5_000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
    expect(signals[0].aborted).toBe(true);
    expect(signals[0].reason).toBeInstanceOf(JobTimeoutError);
    const run = await new RunHistory({ redis: h.redis, prefix: h.prefix }).get(jobId);
    expect(run).toMatchObject({ state: 'failed', attempts: 1, error: 'timed out after 300 ms' });
    expect(Date.parse(run!.finishedAt!) - Date.parse(run!.startedAt!)).toBeGreaterThanOrEqual(290);
  });

  it('fails a job naming an unknown handler at once, without retries', async () => {
    const { events } = await h.worker();
    const jobId = tickJobId('ghost', 4_000);
    await h.enqueue(jobId, jobData({ schedule: 'ghost', handler: 'not-here', scheduledFor: new Date(4_000).toISOString() }), { attempts: 5 });
    await until('job failed', async () => (await h.jobState(jobId)) === 'failed');
    const run = await new RunHistory({ redis: h.redis, prefix: h.prefix }).get(jobId);
    expect(run).toMatchObject({ state: 'failed', attempts: 1 });
    expect(run!.error).toBe('no handler named "not-here" on this node (known: http, log)');
    expect(events('job.failed')[0].facts).toMatchObject({ attempt: 1, willRetry: false });
  });

  it('fails a job with malformed data at once, naming the bad field', async () => {
    const { events } = await h.worker();
    await h.queue.add('broken', { schedule: 'broken', scheduledFor: 'x' } as never, { jobId: 'broken@1', attempts: 3 });
    await until('job failed', async () => (await h.jobState('broken@1')) === 'failed');
    const job = await h.queue.getJob('broken@1');
    expect(job!.failedReason).toBe('job broken@1 has malformed data: field "handler" is missing or has the wrong type');
    expect(job!.attemptsMade).toBe(1);
    expect(events('job.failed')[0].facts).toMatchObject({ schedule: 'broken', jobId: 'broken@1', willRetry: false });
  });

  it('runs the log handler, which logs job.log and succeeds', async () => {
    const { events } = await h.worker();
    const jobId = tickJobId('audit', 5_000);
    await h.enqueue(jobId, jobData({ schedule: 'audit', handler: 'log', scheduledFor: new Date(5_000).toISOString(), payload: { n: 1 } }));
    await until('job completed', async () => (await h.jobState(jobId)) === 'completed');
    expect(events('job.log')[0].facts).toMatchObject({ schedule: 'audit', jobId, payload: { n: 1 } });
  });

  it('limitConcurrency: takes no job at 0, at most the limit above it, and never more than its concurrency', async () => {
    const started: string[] = [];
    let running = 0;
    let maxRunning = 0;
    let release = () => undefined as void;
    let gate = new Promise<void>((resolve) => { release = resolve; });
    const { worker } = await h.worker({ concurrency: 4, start: false, handlers: {
      hold: async (ctx) => {
        started.push(ctx.jobId);
        maxRunning = Math.max(maxRunning, ++running);
        await gate;
        running--;
      },
    } });
    worker.limitConcurrency(0);
    await worker.start();
    const ids = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) =>
      h.enqueue(tickJobId('held', i * 1000), jobData({ schedule: 'held', handler: 'hold', scheduledFor: new Date(i * 1000).toISOString() }))));
    await sleep(1000);
    expect(started).toEqual([]); // started with 0: nothing taken

    worker.limitConcurrency(2);
    await until('two jobs running', () => started.length === 2);
    await sleep(500);
    expect(started).toHaveLength(2);
    expect(maxRunning).toBe(2);

    worker.limitConcurrency(0); // the running two finish; no other starts
    release();
    await until('the two completed', async () => (await Promise.all(started.map((id) => h.jobState(id)))).every((s) => s === 'completed'));
    await sleep(1000);
    expect(started).toHaveLength(2);

    gate = new Promise<void>((resolve) => { release = resolve; });
    worker.limitConcurrency(9); // above its concurrency: 4
    expect(worker.concurrencyLimit()).toBe(4);
    await until('four more running', () => started.length === 6);
    await sleep(500);
    expect(started).toHaveLength(6);
    expect(maxRunning).toBe(4);
    release();
    await until('every job completed', async () => (await Promise.all(ids.map((id) => h.jobState(id)))).every((s) => s === 'completed'));
    expect(new Set(started)).toEqual(new Set(ids)); // each once
    expect(() => worker.limitConcurrency(-1)).toThrow('option "limit" must be an integer >= 0, got -1');
  });
});

describe('RunHistory', () => {
  let server: RedisServerHandle;
  let h: WorkerHarness;
  beforeAll(async () => { server = await startRedisServer(); });
  afterAll(async () => server?.cleanup());
  beforeEach(async () => { h = await WorkerHarness.create(server, 'history'); });
  afterEach(async () => h?.close());

  it('lists newest scheduled first from BullMQ\'s job records, honours the limit, and leaves out ids whose job is gone', async () => {
    const history = new RunHistory({ redis: h.redis, prefix: h.prefix });
    const at = (ms: number) => new Date(ms).toISOString();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const { worker } = await h.worker({ nodeId: 'n1', concurrency: 1, handlers: { hold: () => gate } });
    await h.enqueue('r@1000', jobData({ schedule: 'r', handler: 'log', scheduledFor: at(1_000) }));
    await until('r@1000 completed', async () => (await h.jobState('r@1000')) === 'completed');
    await h.enqueue('r@2000', jobData({ schedule: 'r', handler: 'hold', scheduledFor: at(2_000) }));
    await until('r@2000 active', async () => (await h.jobState('r@2000')) === 'active');
    await h.enqueue('r@3000', jobData({ schedule: 'r', handler: 'log', scheduledFor: at(3_000) }));
    await h.redis.zadd(h.keys.runs('r'), 500, 'r@500'); // indexed, but BullMQ removed the job

    const runs = await history.list('r', 10);
    expect(runs.map((r) => [r.jobId, r.scheduledFor, r.state, r.attempts, r.node, r.finishedAt === null, r.error])).toEqual([
      ['r@3000', at(3_000), 'queued', 0, null, true, null],
      ['r@2000', at(2_000), 'active', 1, 'n1', true, null],
      ['r@1000', at(1_000), 'completed', 1, 'n1', false, null],
    ]);
    expect(Date.parse(runs[1].startedAt!)).toBeGreaterThan(0);
    expect(Date.parse(runs[2].finishedAt!)).toBeGreaterThanOrEqual(Date.parse(runs[2].startedAt!));
    expect((await history.list('r', 2)).map((r) => r.jobId)).toEqual(['r@3000', 'r@2000']);
    expect(await history.get('r@2000')).toMatchObject({ state: 'active', scheduledFor: at(2_000) });
    expect(await history.get('r@500')).toBeNull();
    expect(await history.list('nothing-here')).toEqual([]);
    await expect(history.list('r', 0)).rejects.toThrow('limit must be an integer from 1 to 1000, got 0');
    release();
    await until('r@3000 completed', async () => (await h.jobState('r@3000')) === 'completed');
    await worker.close(1_000);
  });

  it('counts a re-run after a dead worker as an attempt, and shows the job retrying meanwhile', async () => {
    const history = new RunHistory({ redis: h.redis, prefix: h.prefix });
    const jobId = tickJobId('stall', 6_000);
    const { worker: dying } = await h.worker({ nodeId: 'dies', handlers: { hang: () => new Promise(() => undefined) }, lockDurationMs: 500 });
    await h.enqueue(jobId, jobData({ schedule: 'stall', handler: 'hang', scheduledFor: new Date(6_000).toISOString(), timeoutMs: 0 }));
    await until('attempt 1 running', () => dying.runningCount() === 1); // its handler started (not only fetched)
    expect(await history.get(jobId)).toMatchObject({ state: 'active', attempts: 1, node: 'dies' });
    await dying.close(0); // abandons the attempt: its lock lapses
    await until('retrying after the lock lapsed', async () => (await history.get(jobId))?.state === 'retrying', 10_000);
    await h.worker({ nodeId: 'rescuer', handlers: { hang: () => undefined } });
    await until('completed by the rescuer', async () => (await history.get(jobId))?.state === 'completed', 15_000);
    expect(await history.get(jobId)).toMatchObject({ attempts: 2, node: 'rescuer', error: null });
  });
});
