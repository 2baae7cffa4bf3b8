/**
 * BatonJobData is the body of every BullMQ job Baton enqueues; the scheduler
 * writes it and the worker reads it.
 */
export interface BatonJobData {
  /** schedule: the schedule's name. */
  schedule: string;
  /** handler: name of the handler that runs it (`http`, `log`, or an app's). */
  handler: string;
  /** scheduledFor: the cron instant this job stands for, ISO 8601 (UTC). For a manual trigger, the trigger time. */
  scheduledFor: string;
  /** fencingToken: the leadership term that enqueued it (0 for a manual trigger). */
  fencingToken: number;
  /** payload: the schedule's `data`, as stored. */
  payload: unknown;
  /** timeoutMs: per-attempt time limit. */
  timeoutMs: number;
  /** trigger: `cron` for a tick (live or caught up), `manual` for POST .../trigger. */
  trigger: 'cron' | 'manual';
}

/** tickJobId is the job id of one (schedule, instant): enqueueing it twice yields one job. */
export function tickJobId(schedule: string, fireAtMs: number): string {
  // BullMQ refuses ':' in custom ids, and schedule names cannot contain '@'.
  return `${schedule}@${fireAtMs}`;
}

/**
 * JOB_RETENTION: how long BullMQ keeps a finished job, whose hash is the run
 * record (RunHistory): completed runs 7 days or the newest 100,000, failed 7
 * days. The scheduler writes it into every job's options; the worker applies
 * the completed half when it completes jobs in batches (finishAndTake-8.lua).
 */
export const JOB_RETENTION = {
  removeOnComplete: { age: 604_800, count: 100_000 },
  removeOnFail: { age: 604_800 },
} as const;
