import { join } from 'node:path';
import { Job, Queue, UnrecoverableError, Worker, type RedisOptions as BullRedisOptions, type WorkerOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import {
  batonKeys, defineLuaCommands, JOB_RETENTION, logs, systemClock, type BatonJobData, type BatonKeys, type Clock, type EventLogger,
} from '@lib/common';
import type { HandlerRegistry } from './handler-registry';
import { JobPump, type PumpedJob } from './job-pump';
import { RunHistory } from './run-history';
import { runAttempt, StopGroup } from './run-attempt';
import { MalformedJobError, UnknownHandlerError } from './worker.errors';
import { workerMessages } from './worker.messages';

/** WorkerConnection: a Redis URL, or ioredis options (an optional `url` plus overrides). */
export type WorkerConnection = string | (RedisOptions & { url?: string });

/** BatonWorkerOptions: see BatonWorker. */
export interface BatonWorkerOptions {
  /** connection: where the queue lives; BullMQ opens its own connections from it. */
  connection: WorkerConnection;
  /** prefix: the deployment prefix (`baton`); BullMQ keys read `{prefix}:jobs:*`. */
  prefix: string;
  /** nodeId: this node's name: BullMQ's worker name (a run's `node`) and in logs. */
  nodeId: string;
  /** concurrency: jobs run at once by this node (default 4). */
  concurrency?: number;
  registry: HandlerRegistry;
  logger: EventLogger;
  /** clock: for run timestamps and durations (default systemClock). */
  clock?: Clock;
  /** lockDurationMs: job lock length; a dead worker's job is re-run after it lapses (default 10000). */
  lockDurationMs?: number;
  /** stalledIntervalMs: how often this worker looks for jobs with lapsed locks (default 5000). */
  stalledIntervalMs?: number;
  /** maxStalledCount: times a job may stall before it is failed (default 3). */
  maxStalledCount?: number;
  /**
   * stalledCheck: `own` (default): this worker looks for stalled jobs every
   * stalledIntervalMs; `on-demand`: only while a `sweepStalled()` call runs.
   * A cluster sweeps from its leader alone, so idle followers send nothing for it.
   */
  stalledCheck?: 'own' | 'on-demand';
}

const positiveInt = (field: string, value: number) => {
  if (!Number.isInteger(value) || value < 1) throw new TypeError(workerMessages.badOption(field, `must be a positive integer, got ${value}`));
  return value;
};

/** splitConnection turns a WorkerConnection into [url, ioredis options]. */
function splitConnection(conn: WorkerConnection): [string | undefined, RedisOptions] {
  if (typeof conn === 'string') return [conn, {}];
  const { url, ...rest } = conn;
  return [url, rest];
}

/**
 * BatonWorker runs the jobs of one deployment's BullMQ queue through the
 * handlers of a HandlerRegistry: one attempt per call, time-limited by the
 * job's `timeoutMs`, logged as `job.completed` /
 * `job.failed`. Attempts and backoff come from the job's own options. A
 * job whose worker dies is re-run by another worker once its lock
 * (`lockDurationMs`) lapses and a stalled check finds it (this worker's own,
 * or with `stalledCheck: 'on-demand'` a running sweepStalled somewhere):
 * execution is at-least-once, keyed by job id.
 *
 * Jobs are taken and completed in batches by a JobPump (one script call for
 * many jobs, where BullMQ's Worker makes two per job); a failed attempt goes
 * through BullMQ's own Job#moveToFailed, and stalled jobs are found by
 * BullMQ's stalled check, so the queue's data is what a BullMQ Worker writes.
 */
export class BatonWorker {
  /** history: reads the runs of this deployment (for the runs endpoint); its connection opens on first use. */
  readonly history: RunHistory;
  private readonly opts: Required<Omit<BatonWorkerOptions, 'connection'>>;
  private readonly connection: WorkerConnection;
  private readonly redis: Redis;
  private readonly keys: BatonKeys;
  private readonly running = new Set<string>();
  private readonly stop = new StopGroup();
  private readonly sweeps = new Set<{ end: () => void; finished: Promise<void> }>();
  private pump?: JobPump;
  private blocking?: Redis;
  /** queue: BullMQ's view of the queue, for the rare paths that go through its Job (a failed attempt, a job handed back). */
  private queue?: Queue;
  private ownSweep?: AbortController;
  private starting?: Promise<void>;
  private stopping = false;
  private closing?: Promise<void>;
  private limit: number;

  constructor(options: BatonWorkerOptions) {
    const o = options ?? ({} as BatonWorkerOptions);
    if (!o.connection) throw new TypeError(workerMessages.badOption('connection', 'is required'));
    if (typeof o.prefix !== 'string' || !o.prefix) throw new TypeError(workerMessages.badOption('prefix', 'must be a non-empty string'));
    if (typeof o.nodeId !== 'string' || !o.nodeId) throw new TypeError(workerMessages.badOption('nodeId', 'must be a non-empty string'));
    if (!o.registry) throw new TypeError(workerMessages.badOption('registry', 'is required'));
    if (!o.logger) throw new TypeError(workerMessages.badOption('logger', 'is required'));
    this.connection = o.connection;
    this.opts = {
      prefix: o.prefix, nodeId: o.nodeId, registry: o.registry, logger: o.logger, clock: o.clock ?? systemClock,
      concurrency: positiveInt('concurrency', o.concurrency ?? 4),
      lockDurationMs: positiveInt('lockDurationMs', o.lockDurationMs ?? 10_000),
      stalledIntervalMs: positiveInt('stalledIntervalMs', o.stalledIntervalMs ?? 5_000),
      maxStalledCount: positiveInt('maxStalledCount', o.maxStalledCount ?? 3),
      stalledCheck: o.stalledCheck ?? 'own',
    };
    this.limit = this.opts.concurrency;
    if (this.opts.stalledCheck !== 'own' && this.opts.stalledCheck !== 'on-demand') {
      throw new TypeError(workerMessages.badOption('stalledCheck', `must be 'own' or 'on-demand', got ${String(o.stalledCheck)}`));
    }
    const [url, rest] = splitConnection(o.connection);
    const redisOpts: RedisOptions = { ...rest, lazyConnect: true };
    this.redis = url ? new Redis(url, redisOpts) : new Redis(redisOpts);
    this.redis.on('error', () => undefined); // ioredis reconnects; a failed call is retried or fails its API request
    this.keys = batonKeys(o.prefix);
    this.history = new RunHistory({ redis: this.redis, prefix: o.prefix });
  }

  /** start connects and begins taking jobs; resolves once the worker is connected. Idempotent. */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('BatonWorker was closed; create a new one'));
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    defineLuaCommands(this.redis, join(__dirname, '../lua'));
    const [url, rest] = splitConnection(this.connection);
    // BZPOPMIN blocks its connection: one of its own, waiting through reconnects as BullMQ's blocking connection does
    const blockingOpts: RedisOptions = { ...rest, lazyConnect: true, maxRetriesPerRequest: null };
    const blocking = url ? new Redis(url, blockingOpts) : new Redis(blockingOpts);
    blocking.on('error', () => undefined);
    this.blocking = blocking;
    this.queue = new Queue(this.keys.queueName, { connection: this.redis, prefix: this.keys.tag });
    this.queue.on('error', () => undefined);
    await Promise.all([this.redis.ping(), blocking.ping()]);
    if (this.stopping) return;
    const q = this.queue.keys;
    this.pump = new JobPump({
      redis: this.redis, blocking,
      keys: { wait: q.wait, active: q.active, delayed: q.delayed, meta: q.meta, marker: q.marker, events: q.events,
        stalled: q.stalled, completed: q.completed, jobsPrefix: this.keys.jobsPrefix },
      worker: this.opts.nodeId,
      lockMs: this.opts.lockDurationMs,
      // An idle worker blocks on the queue's marker for up to 30 s; a new job wakes it at once, so a longer wait
      // costs no latency and cuts an idle node's Redis commands (BullMQ's Worker waits 5 s by default).
      drainDelaySec: 30,
      keepAgeSec: JOB_RETENTION.removeOnComplete.age,
      keepCount: JOB_RETENTION.removeOnComplete.count,
      limit: this.limit,
      run: (job) => this.process(job),
      fail: (job, err) => this.recordFailure(job, err),
      handBack: (job) => this.handBack(job),
      warn: (event, msg, facts) => this.opts.logger.log('warn', event, msg, facts),
    });
    this.pump.start();
    if (this.opts.stalledCheck === 'own') {
      this.ownSweep = new AbortController();
      this.sweepStalled(this.ownSweep.signal).catch((err: Error) =>
        this.opts.logger.log('warn', 'worker.error', `stalled-job sweep ended: ${err.message}`, { error: err.message }));
    }
  }

  /** bullOptions: what this node's BullMQ workers share: connection, keys, name, locks, stalled handling. */
  private bullOptions(): WorkerOptions {
    const [url, rest] = splitConnection(this.connection);
    return {
      connection: { ...rest, ...(url ? { url } : {}), maxRetriesPerRequest: null } as BullRedisOptions,
      prefix: this.keys.tag,
      name: this.opts.nodeId,
      lockDuration: this.opts.lockDurationMs,
      stalledInterval: this.opts.stalledIntervalMs,
      maxStalledCount: this.opts.maxStalledCount,
    };
  }

  /**
   * sweepStalled looks for stalled jobs (lock lapsed: their worker died or
   * hung) every stalledIntervalMs until `signal` aborts or this worker
   * closes: each goes back to wait, or to failed past maxStalledCount. It
   * runs a BullMQ worker of its own that takes no jobs. Resolves when the
   * sweeping has stopped.
   */
  async sweepStalled(signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.stopping) return;
    const sweeper = new Worker(this.keys.queueName, null, { ...this.bullOptions(), autorun: false });
    sweeper.on('error', (err) => this.opts.logger.log('warn', 'worker.error', `worker error: ${err.message}`, { error: err.message }));
    sweeper.on('stalled', (jobId) => this.opts.logger.log('warn', 'job.stalled', `job ${jobId} lost its lock (its worker stalled or died) and was moved back to wait`, { jobId }));
    let end = () => undefined as void;
    const ended = new Promise<void>((resolve) => { end = resolve; });
    signal.addEventListener('abort', end, { once: true });
    const sweep = { end, finished: Promise.resolve() };
    sweep.finished = (async () => {
      try {
        await sweeper.startStalledCheckTimer();
        await ended;
      } finally {
        signal.removeEventListener('abort', end);
        this.sweeps.delete(sweep);
        await sweeper.close().catch(() => undefined);
      }
    })();
    this.sweeps.add(sweep);
    return sweep.finished;
  }

  /**
   * limitConcurrency caps the jobs this worker takes at once, from 0 (take
   * none: jobs already running finish, the queue waits for other workers)
   * up to its configured concurrency, which a larger limit means. A worker
   * not started yet starts with the limit. Nothing changes once it closes.
   */
  limitConcurrency(limit: number): void {
    if (!Number.isInteger(limit) || limit < 0) throw new TypeError(workerMessages.badOption('limit', `must be an integer >= 0, got ${limit}`));
    if (this.stopping) return;
    this.limit = Math.min(limit, this.opts.concurrency);
    this.pump?.setLimit(this.limit);
  }

  /** concurrencyLimit: what limitConcurrency set (the configured concurrency when never called). */
  concurrencyLimit(): number {
    return this.limit;
  }

  /** runningCount: attempts this worker is running right now. */
  runningCount(): number {
    return this.running.size;
  }

  /**
   * close stops taking jobs and waits up to `graceMs` for running attempts to
   * finish. Attempts still running then are abandoned: their signal aborts,
   * nothing more is written for them, and their locks lapse, so another
   * worker re-runs them (BullMQ stalled-job recovery). Resolves when all
   * connections are closed. Calling it again returns the same promise.
   */
  close(graceMs = 0): Promise<void> {
    this.closing ??= this.doClose(Math.max(0, graceMs));
    return this.closing;
  }

  private async doClose(graceMs: number): Promise<void> {
    this.stopping = true;
    this.ownSweep?.abort();
    await this.starting?.catch(() => undefined);
    await Promise.all([...this.sweeps].map((sweep) => { sweep.end(); return sweep.finished.catch(() => undefined); }));
    const pump = this.pump;
    if (pump) {
      // 1. stop taking; a job taken in flight is handed back; 2. let running attempts finish (and be completed) within the grace
      let timer: ReturnType<typeof setTimeout> | undefined;
      const drained = await Promise.race([
        pump.stop().then(() => true),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), graceMs); }),
      ]);
      clearTimeout(timer);
      // 3. force when some are still running: their locks stop being renewed and lapse
      if (!drained && this.running.size > 0) {
        this.opts.logger.log('warn', 'worker.abandoned', `abandoning ${this.running.size} running job(s) after ${graceMs} ms`, {
          jobIds: [...this.running], graceMs,
        });
      }
      await pump.close();
      if (!drained) this.stop.stop();
    }
    this.blocking?.disconnect();
    await this.queue?.close().catch(() => undefined);
    if (this.redis.status === 'wait') this.redis.disconnect(); // never connected (lazyConnect)
    else await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** process runs one attempt of a job the pump took (one async frame: it is on every job's path). */
  private async process(job: PumpedJob): Promise<void> {
    const { clock, nodeId, logger, registry } = this.opts;
    const jobId = job.id;
    const attempt = job.attemptsMade + 1;
    const data = checkJobData(jobId, job.data); // throws MalformedJobError: recordFailure logs it
    const logged = logs(logger, 'info'); // one job.completed line per job: not even built when info is off
    const t0 = logged ? clock.monotonicMs() : 0;
    this.running.add(jobId);
    // Nothing is written here: BullMQ's job hash is the run record (see RunHistory).
    try {
      const handler = registry.get(data.handler);
      if (!handler) throw new UnknownHandlerError(data.handler, registry.names());
      await runAttempt(handler, {
        jobId, schedule: data.schedule, scheduledFor: data.scheduledFor, attempt, fencingToken: data.fencingToken,
        payload: data.payload, trigger: data.trigger, timeoutMs: data.timeoutMs > 0 ? data.timeoutMs : 0,
      }, this.stop);
    } finally {
      this.running.delete(jobId);
    }
    if (!logged) return;
    const durationMs = Math.round(clock.monotonicMs() - t0);
    logger.log('info', 'job.completed', `job ${jobId} of ${data.schedule} completed in ${durationMs} ms`, {
      schedule: data.schedule, jobId, durationMs, attempt, node: nodeId,
    });
  }

  /**
   * recordFailure logs a failed attempt and hands it to BullMQ's
   * Job#moveToFailed, which retries it (after its backoff) while attempts
   * are left and the error is not an UnrecoverableError, else fails it.
   * An attempt abandoned at a forced close is neither: its re-run logs it.
   */
  private async recordFailure(taken: PumpedJob, err: unknown): Promise<void> {
    if (this.stop.stopped) return;
    const job = await Job.fromId<BatonJobData>(this.queue as Queue, taken.id);
    if (!job) return; // removed meanwhile
    const error = err instanceof Error ? err : new Error(String(err));
    const attempt = taken.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const willRetry = !(error instanceof UnrecoverableError) && attempt < maxAttempts;
    const { logger, nodeId } = this.opts;
    const schedule = typeof job.data?.schedule === 'string' ? job.data.schedule : job.name;
    const msg = error instanceof MalformedJobError ? error.message
      : `job ${taken.id} of ${schedule} failed attempt ${attempt}/${maxAttempts}${willRetry ? ', will retry' : ''}: ${error.message}`;
    logger.log(willRetry ? 'warn' : 'error', 'job.failed', msg, {
      schedule, jobId: taken.id, attempt, maxAttempts, willRetry, error: error.message, node: nodeId,
    });
    await job.moveToFailed(error, taken.token, false);
  }

  /** handBack gives a job taken while closing back to wait, untouched. */
  private async handBack(taken: PumpedJob): Promise<void> {
    const job = await Job.fromId(this.queue as Queue, taken.id);
    if (!job) return;
    await job.moveToWait(taken.token);
    // The take counted a started attempt (ats); no handler ran, so the run's attempts must not grow.
    await this.redis.hincrby(this.keys.job(taken.id), 'ats', -1).catch(() => undefined);
  }
}

/** checkJobData parses and validates the fields the worker relies on; throws MalformedJobError (unrecoverable). */
function checkJobData(jobId: string, json: string): BatonJobData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new MalformedJobError(jobId, 'data');
  }
  const d = (parsed ?? {}) as Record<string, unknown>;
  for (const field of ['schedule', 'handler', 'scheduledFor'] as const) {
    if (typeof d[field] !== 'string' || !d[field]) throw new MalformedJobError(jobId, field);
  }
  if (d.timeoutMs !== undefined && typeof d.timeoutMs !== 'number') throw new MalformedJobError(jobId, 'timeoutMs');
  return { // spelled out, not spread: this is on every job's path
    schedule: d.schedule as string, handler: d.handler as string, scheduledFor: d.scheduledFor as string, payload: d.payload,
    fencingToken: typeof d.fencingToken === 'number' ? d.fencingToken : 0,
    timeoutMs: typeof d.timeoutMs === 'number' ? d.timeoutMs : 0,
    trigger: d.trigger === 'manual' ? 'manual' : 'cron',
  };
}
