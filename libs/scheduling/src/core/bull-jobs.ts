import type { Redis } from 'ioredis';
import { Job, type JobsOptions, type Queue } from 'bullmq';
import { RUNS_KEPT, runsTrimDue, type BatonJobData, type BatonKeys, type PipelineResults } from '@lib/common';
import type { ScheduleSpec } from './schedule-spec';

// How the FencedEnqueuer writes a job: bullmq's own add-job script, queued on
// a MULTI of bullmq's connection, plus the schedule's runs index. The bullmq
// internals it relies on (the backend's client, the defined scripts, Job#addJob
// on a multi) are all here, so a bullmq upgrade is checked in one file.

/** BullMulti: the MULTI of bullmq's (wrapped ioredis) client, as far as Baton uses it. */
export interface BullMulti {
  zadd(key: string, score: number, member: string): BullMulti;
  zremrangebyrank(key: string, start: number, stop: number): BullMulti;
  hset(key: string, values: Record<string, string>): BullMulti;
  exec(): Promise<PipelineResults>;
}
/** BullClient: bullmq's client, for its MULTI. */
export interface BullClient {
  multi(): BullMulti;
}

/** jobOptions: the BullMQ options of a schedule's jobs. */
export function jobOptions(spec: ScheduleSpec, jobId: string): JobsOptions {
  return {
    jobId,
    attempts: spec.attempts,
    backoff: { type: spec.backoff.type, delay: spec.backoff.delayMs },
    // BullMQ's job hash is the run record (RunHistory): completed runs stay 7 days or the newest 100,000, failed 7 days.
    removeOnComplete: { age: 604_800, count: 100_000 },
    removeOnFail: { age: 604_800 },
  };
}

/** addRunsEntry indexes job `jobId` under its schedule's `runs:<name>`, and now and then trims that set to RUNS_KEPT. */
export function addRunsEntry(multi: BullMulti, keys: BatonKeys, name: string, scoreMs: number, jobId: string): void {
  multi.zadd(keys.runs(name), scoreMs, jobId);
  if (runsTrimDue(jobId)) multi.zremrangebyrank(keys.runs(name), 0, -(RUNS_KEPT + 1));
}

/**
 * addJobScripts: bullmq's add-job scripts as defined on `redis` (sha, lua).
 * ioredis marks a script as loaded on a socket as soon as it WRITES an EVAL
 * of it; inside WATCH/MULTI an aborted EXEC never runs that EVAL, and every
 * later MULTI would call EVALSHA and fail with NOSCRIPT (found by the chaos
 * suite). So each batch checks SCRIPT EXISTS in its WATCH read and loads what
 * is missing before it sends a MULTI; this also covers a Redis restart or a
 * SCRIPT FLUSH. Failing to find them is a bullmq upgrade problem: say so.
 */
export function addJobScripts(redis: Redis): { sha: string; lua: string }[] {
  const set = (redis as unknown as { scriptsSet?: Record<string, { sha: string; lua: string }> }).scriptsSet ?? {};
  const scripts = Object.entries(set).filter(([name]) => name.startsWith('addStandardJob')).map(([, script]) => script);
  if (scripts.length === 0) throw new Error('FencedEnqueuer: bullmq has not defined addStandardJob on the connection (bullmq version changed?)');
  return scripts;
}

/** bullmq 6 keeps the (wrapped ioredis) client on the Redis backend, no longer on Queue#client. */
export function bullClientOf(queue: Queue): Promise<BullClient> {
  const backend = queue.getBackend() as unknown as { client?: Promise<BullClient> };
  return Promise.resolve(backend.client ?? (queue as unknown as { client: Promise<BullClient> }).client);
}

/** Queues bullmq's addJob script on `multi` synchronously (as bullmq's own addJobs does); the promise never rejects. */
export function addJobTo(queue: Queue, multi: BullMulti, spec: ScheduleSpec, atMs: number, jobId: string,
  trigger: BatonJobData['trigger'], token: number): Promise<unknown> {
  const data: BatonJobData = {
    schedule: spec.name, handler: spec.handler, scheduledFor: new Date(atMs).toISOString(),
    fencingToken: token, payload: spec.data ?? null, timeoutMs: spec.timeoutMs, trigger,
  };
  const job = new Job(queue, spec.name, data, jobOptions(spec, jobId), jobId);
  return (job.addJob(multi as never) as Promise<unknown>).catch(() => undefined);
}
