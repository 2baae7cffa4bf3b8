import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** PumpedJob: one job a JobPump took: its id, the lock token it holds, its data (JSON) and the attempts made before this one. */
export interface PumpedJob {
  id: string;
  token: string;
  data: string;
  attemptsMade: number;
}

/** PumpKeys: the keys of the BullMQ queue, in finishAndTake-8.lua's KEYS order, plus the job hashes' prefix. */
export interface PumpKeys {
  wait: string;
  active: string;
  delayed: string;
  meta: string;
  marker: string;
  events: string;
  stalled: string;
  completed: string;
  jobsPrefix: string;
}

/** JobPumpOptions: see JobPump. */
export interface JobPumpOptions {
  /** redis: commands; finishAndTake and extendJobLocks must be defined on it (defineLuaCommands). */
  redis: Redis;
  /** blocking: a connection of its own for BZPOPMIN on the marker (it blocks for up to drainDelaySec). */
  blocking: Redis;
  keys: PumpKeys;
  /** worker: the name written to each job taken (`pb`). */
  worker: string;
  lockMs: number;
  /** drainDelaySec: the longest an idle pump blocks on the marker before it looks again. */
  drainDelaySec: number;
  /** keepAgeSec / keepCount: BullMQ retention of completed jobs (removeOnComplete age and count). */
  keepAgeSec: number;
  keepCount: number;
  /** limit: how many jobs run at once at most (0: take none). */
  limit: number;
  /** run: one attempt; resolves when it succeeded, rejects when it failed. */
  run: (job: PumpedJob) => Promise<void>;
  /** fail: records a failed attempt (the job still holds its lock; BullMQ's moveToFailed decides the retry). */
  fail: (job: PumpedJob, err: unknown) => Promise<void>;
  /** handBack: gives back a job taken after stop() began, untouched. */
  handBack: (job: PumpedJob) => Promise<void>;
  /** warn: something went wrong that the pump recovers from (a Redis error, a lock lost). */
  warn: (event: 'worker.error' | 'job.lock-lost', msg: string, facts: Record<string, unknown>) => void;
}

type Reply = [number[], string[], number];

/** What a pump's loop waits for when it has nothing to send: a job settling, a limit change, the marker, stop. */
class Wake {
  private resolve?: () => void;
  private pending = false;

  wait(): Promise<void> {
    if (this.pending) { this.pending = false; return Promise.resolve(); }
    return new Promise((resolve) => { this.resolve = resolve; });
  }

  fire(): void {
    const resolve = this.resolve;
    if (resolve) { this.resolve = undefined; resolve(); } else this.pending = true;
  }
}

/**
 * JobPump moves a worker's jobs through BullMQ's queue in batches: one
 * finishAndTake-8.lua call completes every attempt that succeeded since the
 * last call and takes as many waiting jobs as there is room for, where
 * BullMQ's Worker makes two script calls per job (moveToActive,
 * moveToFinished) and builds a Job object for each. Jobs, locks, events and
 * retention stay BullMQ's, so BullMQ's stalled check (sweepStalled), its
 * Job#moveToFailed for failed attempts, QueueEvents and the run history all
 * see the same data as from a BullMQ Worker. An idle pump blocks on the
 * queue's marker (BZPOPMIN) for up to drainDelaySec, as BullMQ's Worker does.
 * Locks of running jobs are renewed every lockMs / 2.
 */
export class JobPump {
  private readonly o: JobPumpOptions;
  private readonly keyList: string[];
  private readonly running = new Map<string, string>();
  /** done: id, token, attempts made (with this one) of each attempt that succeeded and is not completed in Redis yet. */
  private done: string[] = [];
  private readonly wake = new Wake();
  private limit: number;
  private taking = true;
  private closed = false;
  /** takeDue: jobs may be waiting (start, the marker fired, the last take filled every free slot). */
  private takeDue = true;
  private blocking?: Promise<void>;
  /** dueTimer: wakes the loop when the earliest delayed job falls due (dueAt), to promote and take it. */
  private dueTimer?: ReturnType<typeof setTimeout>;
  private dueAt = 0;
  private renewal?: ReturnType<typeof setInterval>;
  private loopDone?: Promise<void>;
  /** calling: a finishAndTake call is in flight (its jobs are not in `running` yet). */
  private calling = false;
  private idle?: () => void;
  private readonly tokenBase = randomUUID();
  private tokenSeq = 0;

  constructor(options: JobPumpOptions) {
    this.o = options;
    const k = options.keys;
    this.keyList = [k.wait, k.active, k.delayed, k.meta, k.marker, k.events, k.stalled, k.completed];
    this.limit = options.limit;
  }

  /** start begins the loop and the lock renewal. */
  start(): void {
    if (this.loopDone) return;
    this.renewal = setInterval(() => void this.renewLocks(), Math.max(1, Math.floor(this.o.lockMs / 2)));
    this.loopDone = this.loop().catch((err: Error) =>
      this.o.warn('worker.error', `worker loop ended: ${err.message}`, { error: err.message }));
  }

  /** setLimit changes how many jobs run at once (0: take none; running jobs finish). */
  setLimit(limit: number): void {
    if (limit > this.limit) this.takeDue = true;
    this.limit = limit;
    this.wake.fire();
  }

  /** runningCount: jobs taken and not yet settled. */
  runningCount(): number {
    return this.running.size;
  }

  /** stop takes no more jobs; running ones finish and are still completed. Resolves once none runs and every completion is written (or close). */
  stop(): Promise<void> {
    this.taking = false;
    this.wake.fire();
    if (this.running.size === 0 && this.done.length === 0 && !this.calling) return Promise.resolve();
    return new Promise((resolve) => { this.idle = resolve; });
  }

  /** close ends the loop: attempts still running are abandoned (their locks lapse, a stalled check gives them back). */
  async close(): Promise<void> {
    this.taking = false;
    this.closed = true;
    if (this.renewal) clearInterval(this.renewal);
    clearTimeout(this.dueTimer);
    this.o.blocking.disconnect(); // ends a BZPOPMIN in flight
    this.wake.fire();
    this.idle?.();
    await this.loopDone;
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      const room = this.taking ? Math.max(0, this.limit - this.running.size) : 0;
      // a call that completes jobs takes as many as there is room for too: the take costs little there
      const take = this.takeDue || this.done.length > 0 ? room : 0;
      if (this.done.length === 0 && take === 0) {
        if (this.taking && room > 0 && !this.blocking) this.blockOnMarker();
        await this.wake.wait();
        continue;
      }
      const done = this.done;
      this.done = [];
      const token = `${this.tokenBase}:${++this.tokenSeq}`;
      let reply: Reply;
      this.calling = true;
      try {
        reply = await (this.o.redis as unknown as { finishAndTake(...args: (string | number)[]): Promise<Reply> }).finishAndTake(
          ...this.keyList, this.o.keys.jobsPrefix, Date.now(), take, token, this.o.lockMs, this.o.worker,
          this.o.keepAgeSec, this.o.keepCount, ...done,
        );
      } catch (err) {
        this.calling = false;
        if (this.closed) break;
        this.done = done.concat(this.done); // written nothing: try again
        this.o.warn('worker.error', `worker could not reach Redis: ${(err as Error).message}`, { error: (err as Error).message });
        await new Promise((r) => setTimeout(r, 1_000));
        continue;
      }
      this.calling = false;
      const [codes, taken, nextDelayedMs] = reply;
      codes.forEach((code, i) => {
        if (code !== 0) this.lockLost(done[3 * i], code);
      });
      if (take > 0) {
        const got = taken.length / 3;
        this.takeDue = got === take;
        if (got < take) this.wakeAt(Number(nextDelayedMs));
      }
      for (let i = 0; i + 2 < taken.length; i += 3) {
        this.begin({ id: String(taken[i]), token, data: String(taken[i + 1]), attemptsMade: Number(taken[i + 2]) });
      }
      this.settled();
    }
  }

  /** begin runs a job just taken (or hands it back when the pump stopped taking in the meantime). */
  private begin(job: PumpedJob): void {
    if (this.closed) return; // abandoned: its lock lapses and a stalled check gives it back
    this.running.set(job.id, job.token);
    const finish = (ok: boolean) => {
      if (this.closed) return;
      // the same id may run twice here: a stalled check gave it back while this attempt ran (its lock lapsed) and it was taken again
      if (this.running.get(job.id) === job.token) this.running.delete(job.id);
      if (ok) this.done.push(job.id, job.token, String(job.attemptsMade + 1));
      this.settled();
      this.wake.fire();
    };
    if (!this.taking) {
      this.o.handBack(job).then(() => finish(false), (err: Error) => {
        this.o.warn('worker.error', `could not hand back job ${job.id}: ${err.message}`, { jobId: job.id, error: err.message });
        finish(false);
      });
      return;
    }
    this.o.run(job).then(
      () => finish(true),
      (err: unknown) => this.o.fail(job, err).then(() => finish(false), (e: Error) => {
        this.o.warn('worker.error', `could not record the failure of job ${job.id}: ${e.message}`, { jobId: job.id, error: e.message });
        finish(false);
      }),
    );
  }

  private settled(): void {
    if (this.idle && this.running.size === 0 && this.done.length === 0 && !this.calling) {
      const idle = this.idle;
      this.idle = undefined;
      idle();
    }
  }

  /**
   * blockOnMarker waits (on the blocking connection) for the queue's marker,
   * at most drainDelaySec; then a take is due. A wait that outlives its
   * timeout by 5 s lost its reply (a connection cut without a reset): the
   * connection is dropped and made again, as BullMQ's Worker does.
   */
  private blockOnMarker(): void {
    const watchdog = setTimeout(() => this.o.blocking.disconnect(true), this.o.drainDelaySec * 1000 + 5_000);
    this.blocking = this.o.blocking.bzpopmin(this.o.keys.marker, this.o.drainDelaySec).finally(() => clearTimeout(watchdog)).then(
      () => undefined,
      async (err: Error) => {
        if (this.closed) return;
        this.o.warn('worker.error', `worker's blocking wait failed: ${err.message}`, { error: err.message });
        await new Promise((r) => setTimeout(r, 1_000));
      },
    ).then(() => {
      this.blocking = undefined;
      this.takeDue = true;
      this.wake.fire();
    });
  }

  /**
   * wakeAt arms a take for when the earliest delayed job is due (`dueMs`, 0:
   * none), unless an earlier one is armed: nobody may promote it then (the
   * leader that wrote a tick ahead died), and a marker for it may have been
   * popped by a blocking wait already, as BullMQ's Worker blocks until then.
   * At most drainDelaySec ahead (a retry's backoff can be weeks away, past
   * what a timer can wait); the take then simply finds nothing due yet.
   */
  private wakeAt(dueMs: number): void {
    if (!(dueMs > 0)) return;
    dueMs = Math.min(dueMs, Date.now() + this.o.drainDelaySec * 1000);
    if (this.dueTimer && this.dueAt <= dueMs) return;
    clearTimeout(this.dueTimer);
    this.dueAt = dueMs;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      this.dueAt = 0;
      this.takeDue = true;
      this.wake.fire();
    }, Math.max(0, dueMs - Date.now()));
  }

  private lockLost(jobId: string, code: number): void {
    const why = code === -3 ? 'it was no longer active' : 'its lock was lost (a stalled check gave it back; it runs again)';
    this.o.warn('job.lock-lost', `job ${jobId} finished but could not be completed: ${why}`, { jobId, code });
  }

  private async renewLocks(): Promise<void> {
    if (this.running.size === 0 || this.closed) return;
    const pairs: string[] = [];
    for (const [id, token] of this.running) pairs.push(id, token);
    try {
      const lost = await (this.o.redis as unknown as { extendJobLocks(...args: (string | number)[]): Promise<string[]> }).extendJobLocks(
        this.o.keys.stalled, this.o.keys.jobsPrefix, this.o.lockMs, ...pairs,
      );
      for (const id of lost) {
        if (this.running.has(id)) this.o.warn('job.lock-lost', `job ${id} lost its lock while running; another worker may run it again`, { jobId: id });
      }
    } catch (err) {
      if (!this.closed) this.o.warn('worker.error', `could not renew job locks: ${(err as Error).message}`, { error: (err as Error).message });
    }
  }
}
