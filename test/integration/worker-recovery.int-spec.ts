import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { tickJobId } from '@lib/common';
import { RunHistory, WorkerShutdownError, type JobContext } from '@lib/worker';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { jobData, startReceiver, until, WorkerHarness } from './fixtures/worker-harness';

jest.setTimeout(30_000);

// Guarantee 5: a job whose worker stops or dies mid-run still completes.
describe('BatonWorker shutdown and recovery', () => {
  let server: RedisServerHandle;
  let h: WorkerHarness;
  let child: ChildProcess | undefined;
  let rx: Awaited<ReturnType<typeof startReceiver>> | undefined;

  beforeAll(async () => { server = await startRedisServer(); });
  afterAll(async () => server?.cleanup());
  beforeEach(async () => { h = await WorkerHarness.create(server, 'recovery'); });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    child = undefined;
    await h?.close();
    await rx?.close();
    rx = undefined;
  });

  const history = async () => new RunHistory({ redis: h.redis, prefix: h.prefix });

  it('lets a running job finish when closed within the grace, and takes no new job while closing', async () => {
    const signals: AbortSignal[] = [];
    const slow = (ctx: JobContext) => { signals.push(ctx.signal); return new Promise((r) => setTimeout(r, 700)); };
    const a = await h.worker({ nodeId: 'node-a', handlers: { slow } });
    const first = await h.enqueue(tickJobId('slow', 1_000), jobData({ schedule: 'slow', handler: 'slow', scheduledFor: new Date(1_000).toISOString() }));
    await until('job running', () => a.worker.runningCount() === 1);

    const startedClose = Date.now();
    const closing = a.worker.close(5_000);
    const second = await h.enqueue(tickJobId('slow', 2_000), jobData({ schedule: 'slow', handler: 'slow', scheduledFor: new Date(2_000).toISOString() }));
    await closing;
    expect(Date.now() - startedClose).toBeLessThan(5_000);
    expect(signals[0].aborted).toBe(false);
    expect(await h.jobState(first)).toBe('completed');
    expect(await (await history()).get(first)).toMatchObject({ state: 'completed', node: 'node-a', attempts: 1 });
    expect(await h.jobState(second)).toBe('waiting');
    expect(a.events('worker.abandoned')).toEqual([]);

    await h.worker({ nodeId: 'node-b', handlers: { slow } });
    await until('second job completed by node-b', async () => (await h.jobState(second)) === 'completed');
    expect(await (await history()).get(second)).toMatchObject({ state: 'completed', node: 'node-b', attempts: 1 });
  });

  it('abandons a job still running after the grace; another worker re-runs it once the lock lapses', async () => {
    const signals: AbortSignal[] = [];
    const hang = (ctx: JobContext) => { signals.push(ctx.signal); return new Promise(() => undefined); };
    const a = await h.worker({ nodeId: 'node-a', handlers: { work: hang }, lockDurationMs: 1_000, stalledIntervalMs: 300 });
    const jobId = await h.enqueue(tickJobId('work', 1_000), jobData({ schedule: 'work', handler: 'work', scheduledFor: new Date(1_000).toISOString() }));
    await until('job running on node-a', () => a.worker.runningCount() === 1);

    const startedClose = Date.now();
    await a.worker.close(200);
    expect(Date.now() - startedClose).toBeLessThan(2_000);
    expect(signals[0].reason).toBeInstanceOf(WorkerShutdownError);
    expect(a.events('worker.abandoned')[0].facts).toMatchObject({ jobIds: [jobId], graceMs: 200 });
    expect(a.events('job.failed')).toEqual([]);
    expect(await h.jobState(jobId)).toBe('active');

    const b = await h.worker({ nodeId: 'node-b', handlers: { work: () => 'done' }, lockDurationMs: 1_000, stalledIntervalMs: 300 });
    await until('job re-run by node-b', async () => (await h.jobState(jobId)) === 'completed', 10_000);
    expect(await (await history()).get(jobId)).toMatchObject({ state: 'completed', node: 'node-b', attempts: 2 });
    expect(b.events('job.completed')[0].facts).toMatchObject({ jobId, schedule: 'work' });
  });

  it('with stalledCheck on-demand, recovers an abandoned job only while sweepStalled runs', async () => {
    const opts = { lockDurationMs: 500, stalledIntervalMs: 200 };
    const a = await h.worker({ nodeId: 'node-a', handlers: { work: () => new Promise(() => undefined) }, ...opts });
    const jobId = await h.enqueue(tickJobId('swept', 2_000), jobData({ schedule: 'swept', handler: 'work', scheduledFor: new Date(2_000).toISOString() }));
    await until('job running on node-a', () => a.worker.runningCount() === 1);
    await a.worker.close(0); // abandoned: its lock lapses after 500 ms

    const b = await h.worker({ nodeId: 'node-b', handlers: { work: () => 'done' }, stalledCheck: 'on-demand', ...opts });
    await new Promise((r) => setTimeout(r, 2_500)); // 5 lock lengths: an 'own' checker would have moved it long ago
    expect(await h.jobState(jobId)).toBe('active');
    expect(b.events('job.stalled')).toEqual([]);

    const leading = new AbortController();
    const sweeping = b.worker.sweepStalled(leading.signal);
    await until('job re-run by node-b once it sweeps', async () => (await h.jobState(jobId)) === 'completed', 10_000);
    expect(b.events('job.stalled')[0].facts).toEqual({ jobId });
    leading.abort();
    await sweeping; // resolves once the sweeper is closed
  });

  it('re-runs a job whose worker process was SIGKILLed mid-run, with the same Idempotency-Key', async () => {
    rx = await startReceiver(() => ({ status: 200 }));
    let out = '';
    child = spawn(process.execPath, [join(__dirname, 'fixtures/worker-sigkill-victim.js')], {
      env: { ...process.env, REDIS_URL: server.url, BATON_PREFIX: h.prefix, LOCK_MS: '1000' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout!.on('data', (c: Buffer) => { out += c.toString('utf8'); });
    await until('victim ready', () => out.includes('ready\n'));

    const jobId = await h.enqueue(tickJobId('hook', 7_000), jobData({
      schedule: 'hook', handler: 'http', scheduledFor: new Date(7_000).toISOString(), payload: { url: rx.url, body: { n: 7 } },
    }), { attempts: 1 });
    await until('victim took the job', () => out.includes(`took ${jobId}\n`));
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    expect(await h.jobState(jobId)).toBe('active');

    const b = await h.worker({ nodeId: 'node-b', lockDurationMs: 1_000, stalledIntervalMs: 300 });
    await until('job re-run by node-b', async () => (await h.jobState(jobId)) === 'completed', 10_000);
    expect(rx.seen).toHaveLength(1);
    expect(rx.seen[0].headers['idempotency-key']).toBe(jobId);
    expect(JSON.parse(rx.seen[0].body)).toMatchObject({ jobId, payload: { n: 7 } });
    expect(await (await history()).get(jobId)).toMatchObject({ state: 'completed', node: 'node-b' });
    expect(b.events('job.stalled').map((l) => l.facts.jobId)).toContain(jobId);
  });
});
