import type { ChainableCommander, Redis } from 'ioredis';
import { batonKeys, throwFirstError, type BatonKeys } from '@lib/common';
import { workerMessages } from './worker.messages';

/** RunState: `queued` = enqueued but no attempt started yet; the others are written by workers. */
export type RunState = 'queued' | 'active' | 'completed' | 'failed' | 'retrying';

/** RunRecord: one job of a schedule, as `GET /api/schedules/{name}/runs` shows it. Times are ISO 8601 or null. */
export interface RunRecord {
  jobId: string;
  scheduledFor: string;
  state: RunState;
  /** attempts: attempts started so far (0 while queued). */
  attempts: number;
  /** node: id of the node that ran the latest attempt. */
  node: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

/** RunStart: facts of an attempt that just started. */
export interface RunStart {
  jobId: string;
  schedule: string;
  /** scheduledFor: ISO 8601. */
  scheduledFor: string;
  node: string;
  startedAtMs: number;
  /** attempt: BullMQ's attempt number (1 = first); a first attempt has no earlier end to clear. */
  attempt?: number;
}

/** TRIM_EVERY: runs:<name> is trimmed to RUNS_KEPT on one start in this many (and on a history's first). */
const TRIM_EVERY = 50;

/** RUN_TTL_MS: a run hash lives 7 days after its last write. */
export const RUN_TTL_MS = 7 * 24 * 3600 * 1000;
/** RUNS_KEPT: `runs:<name>` keeps the newest 1000 job ids. */
export const RUNS_KEPT = 1000;

const iso = (ms: string | undefined) => (ms ? new Date(Number(ms)).toISOString() : null);

/**
 * RunHistory records each attempt in hash `run(jobId)` and reads a
 * schedule's newest runs back. `runs:<name>` (scored by scheduled instant)
 * is written by the scheduler at enqueue; the worker adds the id too (NX) in
 * case it was not, and trims the set to the newest RUNS_KEPT.
 */
export class RunHistory {
  private readonly redis: Redis;
  private readonly keys: BatonKeys;
  private starts = 0;
  private batch?: { adds: ((p: ChainableCommander) => void)[]; done: Promise<void> };

  constructor(opts: { redis: Redis; prefix: string }) {
    if (!opts?.redis) throw new TypeError('RunHistory option "redis" is required');
    if (typeof opts.prefix !== 'string' || !opts.prefix) throw new TypeError('RunHistory option "prefix" must be a non-empty string');
    this.redis = opts.redis;
    this.keys = batonKeys(opts.prefix);
  }

  /**
   * recordStart marks the run `active`, counts the attempt, clears the last
   * attempt's end (retries only) and indexes it under its schedule. One
   * pipeline, no MULTI: this is on every job's path, and a half-written
   * record is fixed by the next write.
   */
  async recordStart(run: RunStart): Promise<void> {
    const key = this.keys.run(run.jobId);
    const runs = this.keys.runs(run.schedule);
    const scoreMs = Date.parse(run.scheduledFor);
    const trim = this.starts++ % TRIM_EVERY === 0;
    return this.write((p) => {
      p.hset(key, {
        state: 'active', node: run.node, startedAt: String(run.startedAtMs),
        schedule: run.schedule, scheduledFor: run.scheduledFor,
      }).hincrby(key, 'attempts', 1).pexpire(key, RUN_TTL_MS);
      if (run.attempt === undefined || run.attempt > 1) p.hdel(key, 'finishedAt', 'error');
      if (Number.isFinite(scoreMs)) p.zadd(runs, 'NX', scoreMs, run.jobId);
      if (trim) p.zremrangebyrank(runs, 0, -(RUNS_KEPT + 1));
    });
  }

  /** recordEnd writes how the attempt ended; `error` is kept for `failed` and `retrying`. */
  async recordEnd(jobId: string, state: 'completed' | 'failed' | 'retrying', finishedAtMs: number, error?: string): Promise<void> {
    const key = this.keys.run(jobId);
    const fields: Record<string, string> = { state, finishedAt: String(finishedAtMs) };
    if (error !== undefined) fields.error = error;
    return this.write((p) => p.hset(key, fields).pexpire(key, RUN_TTL_MS));
  }

  /**
   * write queues commands for the next flush: every write made in the same
   * turn of the event loop goes out as one pipeline (busy workers finish many
   * jobs per turn), in call order. Resolves when its pipeline was answered;
   * rejects with the first error of its own commands' pipeline.
   */
  private write(add: (p: ChainableCommander) => void): Promise<void> {
    if (!this.batch) {
      const batch = { adds: [] as ((p: ChainableCommander) => void)[], done: undefined as unknown as Promise<void> };
      batch.done = new Promise<void>((resolve, reject) => setImmediate(() => {
        this.batch = undefined;
        const p = this.redis.pipeline();
        for (const fn of batch.adds) fn(p);
        p.exec().then((results) => { throwFirstError(results); resolve(); }, reject);
      }));
      this.batch = batch;
    }
    this.batch.adds.push(add);
    return this.batch.done;
  }

  /** list returns up to `limit` (1-1000, default 20) runs of `schedule`, newest scheduled instant first. */
  async list(schedule: string, limit = 20): Promise<RunRecord[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > RUNS_KEPT) throw new RangeError(workerMessages.badLimit(limit));
    const flat = await this.redis.zrevrange(this.keys.runs(schedule), 0, limit - 1, 'WITHSCORES');
    const ids: Array<{ jobId: string; scoreMs: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) ids.push({ jobId: String(flat[i]), scoreMs: Number(flat[i + 1]) });
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const { jobId } of ids) pipe.hgetall(this.keys.run(jobId));
    const replies = (await pipe.exec()) ?? [];
    return ids.map(({ jobId, scoreMs }, i) => toRecord(jobId, scoreMs, replies[i]?.[1] as Record<string, string> | null));
  }

  /** get returns the run of one job (state `queued` when no attempt started), or null if it has no run hash. */
  async get(jobId: string): Promise<RunRecord | null> {
    const h = await this.redis.hgetall(this.keys.run(jobId));
    if (!h || Object.keys(h).length === 0) return null;
    return toRecord(jobId, Date.parse(h.scheduledFor ?? ''), h);
  }
}

function toRecord(jobId: string, scoreMs: number, h: Record<string, string> | null | undefined): RunRecord {
  const has = h && Object.keys(h).length > 0;
  const fromScore = Number.isFinite(scoreMs) ? new Date(scoreMs).toISOString() : '';
  const scheduledFor = has && h.scheduledFor ? h.scheduledFor : fromScore;
  if (!has) {
    return { jobId, scheduledFor, state: 'queued', attempts: 0, node: null, startedAt: null, finishedAt: null, error: null };
  }
  return {
    jobId,
    scheduledFor,
    state: (h.state as RunState) ?? 'queued',
    attempts: Number(h.attempts ?? 0),
    node: h.node ?? null,
    startedAt: iso(h.startedAt),
    finishedAt: iso(h.finishedAt),
    error: h.error ?? null,
  };
}
