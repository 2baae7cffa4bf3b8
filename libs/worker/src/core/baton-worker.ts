import { UnrecoverableError, WaitingError, Worker, type Job, type RedisOptions as BullRedisOptions, type WorkerOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { batonKeys, logs, systemClock, type BatonJobData, type BatonKeys, type Clock, type EventLogger } from '@lib/common';
import type { HandlerRegistry } from './handler-registry';
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
  private worker?: Worker<BatonJobData>;
  private stopping = false;
  private closing?: Promise<void>;
  private idle?: () => void;
  private limit: number;
  /** looping: run() was called; until then start() applies the limit itself. */
  private looping = false;

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
    this.redis.on('error', () => undefined); // ioredis reconnects; a failed read fails its API request
    this.keys = batonKeys(o.prefix);
    this.history = new RunHistory({ redis: this.redis, prefix: o.prefix });
  }

  /** start connects and begins taking jobs; resolves once the worker is connected. Idempotent. */
  async start(): Promise<void> {
    if (this.worker) return this.worker.waitUntilReady().then(() => undefined);
    if (this.stopping) throw new Error('BatonWorker was closed; create a new one');
    const worker = new Worker<BatonJobData>(this.keys.queueName, (job, token) => this.process(job, token), {
      ...this.bullOptions(),
      autorun: false,
      concurrency: this.opts.concurrency,
      skipStalledCheck: this.opts.stalledCheck === 'on-demand',
      // An idle worker blocks on the queue's marker for up to drainDelay s; a new job wakes it at once, so a
      // longer wait costs no latency and cuts an idle node's Redis commands (BullMQ's default is 5 s; a
      // BZPOPMIN stuck by a reconnect is abandoned by BullMQ's watchdog after drainDelay + 1 s).
      drainDelay: 30,
    });
    this.worker = worker;
    this.watch(worker);
    await worker.waitUntilReady(); // the run-history client connects on its first read (lazyConnect)
    if (this.limit === 0) await worker.pause(true); // run() returns at once; limitConcurrency(n > 0) resumes it
    worker.concurrency = Math.max(1, this.limit);
    this.looping = true;
    worker.run().catch((err: Error) => this.opts.logger.log('error', 'worker.error', `worker loop ended: ${err.message}`, { error: err.message }));
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
    this.watch(sweeper);
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

  /** watch logs a BullMQ worker's errors and the stalled jobs it finds. */
  private watch(worker: Worker): void {
    worker.on('error', (err) => this.opts.logger.log('warn', 'worker.error', `worker error: ${err.message}`, { error: err.message }));
    worker.on('stalled', (jobId) => this.opts.logger.log('warn', 'job.stalled', `job ${jobId} lost its lock (its worker stalled or died) and was moved back to wait`, { jobId }));
  }

  /**
   * limitConcurrency caps the jobs this worker takes at once, from 0 (take
   * none: jobs already running finish, the queue waits for other workers)
   * up to its configured concurrency, which a larger limit means. A worker
   * not started yet starts with the limit. Nothing changes once it closes.
   */
  limitConcurrency(limit: number): void {
    if (!Number.isInteger(limit) || limit < 0) throw new TypeError(workerMessages.badOption('limit', `must be an integer >= 0, got ${limit}`));
    this.limit = Math.min(limit, this.opts.concurrency);
    this.applyLimit();
  }

  /** concurrencyLimit: what limitConcurrency set (the configured concurrency when never called). */
  concurrencyLimit(): number {
    return this.limit;
  }

  private applyLimit(): void {
    const worker = this.worker;
    if (!worker || !this.looping || this.stopping) return;
    if (this.limit === 0) {
      if (!worker.isPaused()) void worker.pause(true).catch(() => undefined); // running jobs go on; a fetch in flight is run
      return;
    }
    worker.concurrency = this.limit;
    if (worker.isPaused()) void worker.resume(); // emits 'error' rather than rejecting
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
    await Promise.all([...this.sweeps].map((sweep) => { sweep.end(); return sweep.finished.catch(() => undefined); }));
    const worker = this.worker;
    if (worker) {
      // 1. stop fetching; a job fetched in flight is handed back in process()
      await worker.pause(true);
      // 2. let running attempts finish within the grace
      await this.waitIdle(graceMs);
      // 3. force when some are still running: locks stop being renewed and lapse
      const forced = this.running.size > 0;
      if (forced) {
        this.opts.logger.log('warn', 'worker.abandoned', `abandoning ${this.running.size} running job(s) after ${graceMs} ms`, {
          jobIds: [...this.running], graceMs,
        });
      }
      await worker.close(forced);
      if (forced) this.stop.stop();
    }
    if (this.redis.status === 'wait') this.redis.disconnect(); // never connected (lazyConnect)
    else await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private waitIdle(graceMs: number): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, graceMs);
      function done() { clearTimeout(timer); resolve(); }
      this.idle = done;
    });
  }

  /** process runs one attempt of a job fetched by BullMQ (one async frame: it is on every job's path). */
  private async process(job: Job<BatonJobData>, token?: string): Promise<void> {
    if (this.stopping) {
      await job.moveToWait(token); // fetched while closing: give it back untouched
      // BullMQ counted the fetch as a started attempt (ats); no handler ran, so the run's attempts must not grow.
      await this.redis.hincrby(this.keys.job(job.id ?? ''), 'ats', -1).catch(() => undefined);
      throw new WaitingError();
    }
    const { clock, nodeId, logger, registry } = this.opts;
    const jobId = job.id ?? '';
    const attempt = job.attemptsMade + 1;
    let data: BatonJobData;
    try {
      data = checkJobData(job);
    } catch (err) {
      const error = (err as Error).message;
      logger.log('error', 'job.failed', error, { schedule: job.name, jobId, attempt, willRetry: false, error, node: nodeId });
      throw err;
    }
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
    } catch (err) {
      if (!this.stop.stopped) this.logFailure(data, jobId, attempt, job.opts.attempts ?? 1, err); // abandoned: the re-run logs it
      throw err;
    } finally {
      this.running.delete(jobId);
      if (this.running.size === 0) this.idle?.();
    }
    if (!logged) return;
    const durationMs = Math.round(clock.monotonicMs() - t0);
    logger.log('info', 'job.completed', `job ${jobId} of ${data.schedule} completed in ${durationMs} ms`, {
      schedule: data.schedule, jobId, durationMs, attempt, node: nodeId,
    });
  }

  /** logFailure logs a failed attempt, saying whether BullMQ will retry it. */
  private logFailure(data: BatonJobData, jobId: string, attempt: number, maxAttempts: number, err: unknown): void {
    const { logger, nodeId } = this.opts;
    const error = err instanceof Error ? err.message : String(err);
    const willRetry = !(err instanceof UnrecoverableError) && attempt < maxAttempts;
    const msg = `job ${jobId} of ${data.schedule} failed attempt ${attempt}/${maxAttempts}${willRetry ? ', will retry' : ''}: ${error}`;
    logger.log(willRetry ? 'warn' : 'error', 'job.failed', msg, {
      schedule: data.schedule, jobId, attempt, maxAttempts, willRetry, error, node: nodeId,
    });
  }
}

/** checkJobData validates the fields the worker relies on; throws MalformedJobError (unrecoverable). */
function checkJobData(job: Job<BatonJobData>): BatonJobData {
  const d = (job.data ?? {}) as unknown as Record<string, unknown>;
  for (const field of ['schedule', 'handler', 'scheduledFor'] as const) {
    if (typeof d[field] !== 'string' || !d[field]) throw new MalformedJobError(job.id, field);
  }
  if (d.timeoutMs !== undefined && typeof d.timeoutMs !== 'number') throw new MalformedJobError(job.id, 'timeoutMs');
  return { // spelled out, not spread: this is on every job's path
    schedule: d.schedule as string, handler: d.handler as string, scheduledFor: d.scheduledFor as string, payload: d.payload,
    fencingToken: typeof d.fencingToken === 'number' ? d.fencingToken : 0,
    timeoutMs: typeof d.timeoutMs === 'number' ? d.timeoutMs : 0,
    trigger: d.trigger === 'manual' ? 'manual' : 'cron',
  };
}
