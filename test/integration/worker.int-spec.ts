import { tickJobId } from '@lib/common';
import { JobTimeoutError, RunHistory, RUNS_KEPT, type JobContext } from '@lib/worker';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { jobData, startReceiver, until, WorkerHarness } from './fixtures/worker-harness';

jest.setTimeout(30_000);

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
});

describe('RunHistory', () => {
  let server: RedisServerHandle;
  let h: WorkerHarness;
  beforeAll(async () => { server = await startRedisServer(); });
  afterAll(async () => server?.cleanup());
  beforeEach(async () => { h = await WorkerHarness.create(server, 'history'); });
  afterEach(async () => h?.close());

  it('lists newest scheduled first, honours the limit, and shows jobs without a run record as queued', async () => {
    const history = new RunHistory({ redis: h.redis, prefix: h.prefix });
    const at = (ms: number) => new Date(ms).toISOString();
    await h.redis.zadd(h.keys.runs('r'), 1_000, 'r@1000', 3_000, 'r@3000', 2_000, 'r@2000');
    await history.recordStart({ jobId: 'r@1000', schedule: 'r', scheduledFor: at(1_000), node: 'n1', startedAtMs: 10_000 });
    await history.recordEnd('r@1000', 'completed', 10_500);
    await history.recordStart({ jobId: 'r@2000', schedule: 'r', scheduledFor: at(2_000), node: 'n2', startedAtMs: 11_000 });

    expect(await history.list('r', 10)).toEqual([
      { jobId: 'r@3000', scheduledFor: at(3_000), state: 'queued', attempts: 0, node: null, startedAt: null, finishedAt: null, error: null },
      { jobId: 'r@2000', scheduledFor: at(2_000), state: 'active', attempts: 1, node: 'n2', startedAt: at(11_000), finishedAt: null, error: null },
      { jobId: 'r@1000', scheduledFor: at(1_000), state: 'completed', attempts: 1, node: 'n1', startedAt: at(10_000), finishedAt: at(10_500), error: null },
    ]);
    expect((await history.list('r', 2)).map((r) => r.jobId)).toEqual(['r@3000', 'r@2000']);
    expect(await history.list('nothing-here')).toEqual([]);
    await expect(history.list('r', 0)).rejects.toThrow('limit must be an integer from 1 to 1000, got 0');
  });

  it('keeps run records for 7 days and trims runs:<name> to the newest 1000', async () => {
    const history = new RunHistory({ redis: h.redis, prefix: h.prefix });
    const args: (string | number)[] = [];
    for (let i = 0; i < RUNS_KEPT + 5; i++) args.push(i, `t@${i}`);
    await h.redis.zadd(h.keys.runs('t'), ...args);
    await history.recordStart({ jobId: 'new@99999', schedule: 't', scheduledFor: new Date(99_999).toISOString(), node: 'n', startedAtMs: 1 });
    expect(await h.redis.zcard(h.keys.runs('t'))).toBe(RUNS_KEPT);
    expect(await h.redis.zscore(h.keys.runs('t'), 't@5')).toBeNull();
    expect(await h.redis.zscore(h.keys.runs('t'), 't@6')).not.toBeNull();
    expect(await h.redis.zscore(h.keys.runs('t'), 'new@99999')).toBe('99999');
    const ttlMs = await h.redis.pttl(h.keys.run('new@99999'));
    expect(ttlMs).toBeGreaterThan(7 * 24 * 3600 * 1000 - 60_000);
  });
});
