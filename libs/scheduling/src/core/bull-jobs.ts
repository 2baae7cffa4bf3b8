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

/**
 * jobOptions: the BullMQ options of a schedule's jobs. With `dueAtMs` after
 * `nowMs` the job is written ahead: a delayed job (timestamp now) due at
 * exactly `dueAtMs`, which promoteTicks or any worker moves to wait then.
 */
export function jobOptions(spec: ScheduleSpec, jobId: string, dueAtMs?: number, nowMs?: number): JobsOptions {
  const ahead = dueAtMs !== undefined && nowMs !== undefined && dueAtMs > nowMs;
  return {
    jobId,
    ...(ahead ? { timestamp: nowMs, delay: dueAtMs - nowMs } : {}),
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
 * (addStandardJob writes a due tick, addDelayedJob a tick written ahead.)
 */
export function addJobScripts(redis: Redis): { sha: string; lua: string }[] {
  const set = (redis as unknown as { scriptsSet?: Record<string, { sha: string; lua: string }> }).scriptsSet ?? {};
  const wanted = ['addStandardJob', 'addDelayedJob'];
  const scripts = Object.entries(set).filter(([name]) => wanted.some((w) => name.startsWith(w))).map(([, script]) => script);
  if (scripts.length < wanted.length) {
    throw new Error(`FencedEnqueuer: bullmq has not defined ${wanted.join(' and ')} on the connection (bullmq version changed?)`);
  }
  return scripts;
}

/** promoteKeys: the keys of BullMQ's queue that promoteTicks-6.lua takes, in its KEYS order. */
export function promoteKeys(queue: Queue): string[] {
  const k = (queue as unknown as { keys: Record<string, string> }).keys;
  const keys = [k.delayed, k.wait, k.meta, k.active, k.marker, k.events];
  if (keys.some((key) => typeof key !== 'string')) throw new Error('FencedEnqueuer: bullmq Queue#keys lacks delayed/wait/meta/active/marker/events (bullmq version changed?)');
  return keys;
}

/** bullmq 6 keeps the (wrapped ioredis) client on the Redis backend, no longer on Queue#client. */
export function bullClientOf(queue: Queue): Promise<BullClient> {
  const backend = queue.getBackend() as unknown as { client?: Promise<BullClient> };
  return Promise.resolve(backend.client ?? (queue as unknown as { client: Promise<BullClient> }).client);
}

/**
 * Queues bullmq's addJob script on `multi` synchronously (as bullmq's own
 * addJobs does); the promise never rejects. With `nowMs` before `atMs` the
 * job is written ahead, due at `atMs` (jobOptions).
 */
export function addJobTo(queue: Queue, multi: BullMulti, spec: ScheduleSpec, atMs: number, jobId: string,
  trigger: BatonJobData['trigger'], token: number, nowMs?: number): Promise<unknown> {
  const data: BatonJobData = {
    schedule: spec.name, handler: spec.handler, scheduledFor: new Date(atMs).toISOString(),
    fencingToken: token, payload: spec.data ?? null, timeoutMs: spec.timeoutMs, trigger,
  };
  const job = new Job(queue, spec.name, data, jobOptions(spec, jobId, atMs, nowMs), jobId);
  return (job.addJob(multi as never) as Promise<unknown>).catch(() => undefined);
}
