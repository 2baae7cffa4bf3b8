import type { Redis } from 'ioredis';
import { batonKeys, RUNS_KEPT, type BatonKeys } from '@lib/common';
import { workerMessages } from './worker.messages';

/**
 * RunState: `queued` = enqueued, no attempt started yet; `active` = an
 * attempt holds the job's lock; `retrying` = an attempt started before and
 * the job waits for the next (after a failure, or after its worker died);
 * `completed` / `failed` = finished.
 */
export type RunState = 'queued' | 'active' | 'completed' | 'failed' | 'retrying';

/** RunRecord: one job of a schedule, as `GET /api/schedules/{name}/runs` shows it. Times are ISO 8601 or null. */
export interface RunRecord {
  jobId: string;
  scheduledFor: string;
  state: RunState;
  /** attempts: attempts started so far (0 while queued), re-runs after a dead worker included. */
  attempts: number;
  /** node: id of the node that ran the latest attempt. */
  node: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

/** The fields of BullMQ's job hash a run record is made of, in HMGET order. */
const JOB_FIELDS = ['processedOn', 'finishedOn', 'pb', 'ats', 'failedReason', 'timestamp'] as const;
/** Replies per job in `read`: HMGET, ZSCORE completed, ZSCORE failed, EXISTS lock. */
const PER_JOB = 4;

const iso = (ms: string | null | undefined) => (ms ? new Date(Number(ms)).toISOString() : null);

/**
 * RunHistory reads a schedule's runs. Workers write nothing of their own:
 * BullMQ's job hash already holds each attempt's start (processedOn), the
 * worker's name (pb, which is the node id), attempts started (ats), the last
 * failure and the end, and its completed/failed sets and the job's lock tell
 * the state. `runs:<name>` (job ids scored by scheduled instant, written with
 * each job by the scheduler, trimmed to RUNS_KEPT) indexes them per schedule.
 * A run lives as long as BullMQ keeps its job (`jobOptions`: completed 7 days
 * or the newest 100,000, failed 7 days); ids whose job is gone are left out,
 * and so are ticks written ahead whose instant has not come yet.
 */
export class RunHistory {
  private readonly redis: Redis;
  private readonly keys: BatonKeys;
  private readonly nowMs: () => number;

  constructor(opts: { redis: Redis; prefix: string; nowMs?: () => number }) {
    if (!opts?.redis) throw new TypeError('RunHistory option "redis" is required');
    if (typeof opts.prefix !== 'string' || !opts.prefix) throw new TypeError('RunHistory option "prefix" must be a non-empty string');
    this.redis = opts.redis;
    this.keys = batonKeys(opts.prefix);
    this.nowMs = opts.nowMs ?? Date.now;
  }

  /** list returns up to `limit` (1-1000, default 20) runs of `schedule` whose instant has come, newest first. */
  async list(schedule: string, limit = 20): Promise<RunRecord[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > RUNS_KEPT) throw new RangeError(workerMessages.badLimit(limit));
    const flat = await this.redis.zrevrangebyscore(this.keys.runs(schedule), this.nowMs(), '-inf', 'WITHSCORES', 'LIMIT', 0, limit);
    const ids: Array<{ jobId: string; scoreMs: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) ids.push({ jobId: String(flat[i]), scoreMs: Number(flat[i + 1]) });
    const runs = await this.read(ids.map((i) => i.jobId));
    return ids.flatMap(({ scoreMs }, i) => {
      const run = runs[i];
      return run ? [{ ...run, scheduledFor: new Date(scoreMs).toISOString() }] : [];
    });
  }

  /** get returns the run of one job, or null when BullMQ has no such job (never enqueued, or removed). */
  async get(jobId: string): Promise<RunRecord | null> {
    const [run] = await this.read([jobId], true);
    return run;
  }

  /**
   * read fetches the runs of `jobIds` in one pipeline; null where the job is
   * gone. scheduledFor comes from the job's data with `withData`, else it is
   * left '' for the caller (list has it as the index score).
   */
  private async read(jobIds: string[], withData = false): Promise<(RunRecord | null)[]> {
    if (jobIds.length === 0) return [];
    const k = this.keys;
    const fields = withData ? [...JOB_FIELDS, 'data'] : JOB_FIELDS;
    const p = this.redis.pipeline();
    for (const id of jobIds) {
      p.hmget(k.job(id), ...fields).zscore(k.jobsCompleted, id).zscore(k.jobsFailed, id).exists(`${k.job(id)}:lock`);
    }
    const replies = (await p.exec()) ?? [];
    return jobIds.map((jobId, i) => {
      const at = i * PER_JOB;
      const err = replies.slice(at, at + PER_JOB).find(([e]) => e)?.[0];
      if (err) throw err;
      const [fields, completed, failed, locked] = replies.slice(at, at + PER_JOB).map(([, v]) => v);
      return toRecord(jobId, fields as (string | null)[], completed !== null, failed !== null, locked === 1);
    });
  }
}

function toRecord(jobId: string, fields: (string | null)[], completed: boolean, failed: boolean, locked: boolean): RunRecord | null {
  const [processedOn, finishedOn, node, ats, failedReason, enqueuedAt, data] = fields;
  if (enqueuedAt === null) return null; // no job hash: never enqueued, or removed by BullMQ's retention
  const attempts = Number(ats ?? 0);
  const state: RunState = completed ? 'completed' : failed ? 'failed' : locked ? 'active' : attempts > 0 ? 'retrying' : 'queued';
  const finished = state === 'completed' || state === 'failed';
  return {
    jobId,
    scheduledFor: data === undefined ? '' : scheduledForOf(data),
    state,
    attempts,
    node: node ?? null,
    startedAt: iso(processedOn),
    finishedAt: finished ? iso(finishedOn) : null,
    error: state === 'failed' || state === 'retrying' ? failedReason ?? null : null,
  };
}

/** scheduledForOf reads the instant out of the job's data (BatonJobData JSON); '' when it has none. */
function scheduledForOf(data: string | null): string {
  if (data === null) return '';
  try {
    const parsed = JSON.parse(data) as { scheduledFor?: unknown };
    return typeof parsed?.scheduledFor === 'string' ? parsed.scheduledFor : '';
  } catch {
    return '';
  }
}
