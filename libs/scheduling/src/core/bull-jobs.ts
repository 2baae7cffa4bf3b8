import { Job, type JobsOptions, type Queue } from 'bullmq';
import { RUNS_KEPT, runsTrimDue, type BatonJobData, type BatonKeys, type PipelineResults } from '@lib/common';
import type { ScheduleSpec } from './schedule-spec';

// How Baton writes a job: a tick through writeTicks-10.lua (BullMQ's job
// format, a batch per call), a manual run through bullmq's own add-job script
// queued on a MULTI of bullmq's connection; each plus the schedule's runs
// index. The bullmq internals it relies on (the queue's keys, the backend's
// client, Job#addJob on a multi) are all here, so a bullmq upgrade is checked
// in one file (and by the enqueuer integration test that compares the two).

/** BullMulti: a MULTI (of ioredis, or of bullmq's wrapped client), as far as Baton uses it. */
export interface BullMulti {
  zadd(key: string, score: number, member: string): unknown;
  zremrangebyrank(key: string, start: number, stop: number): unknown;
  hset(key: string, values: Record<string, string>): unknown;
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
 * queueScriptKeys: the keys of BullMQ's queue that Baton's own job scripts
 * (writeTicks-10.lua, promoteTicks-6.lua) take first, in their KEYS order.
 */
export function queueScriptKeys(queue: Queue): string[] {
  const k = (queue as unknown as { keys: Record<string, string> }).keys;
  const keys = [k.delayed, k.wait, k.meta, k.active, k.marker, k.events];
  if (keys.some((key) => typeof key !== 'string')) throw new Error('FencedEnqueuer: bullmq Queue#keys lacks delayed/wait/meta/active/marker/events (bullmq version changed?)');
  return keys;
}

/**
 * writeTicksHead: the arguments writeTicks-10.lua takes before its ticks'
 * (jobs and runs key prefixes, RUNS_KEPT, the job timestamp, the lease value
 * and schedules revision of the fence).
 */
export function writeTicksHead(keys: BatonKeys, nowMs: number, fence: { leaseValue: string; rev: number }): string[] {
  return [keys.jobsPrefix, keys.runsPrefix, String(RUNS_KEPT), String(nowMs), fence.leaseValue, String(fence.rev)];
}

/**
 * pushTickJobArgs appends the seven writeTicks-10.lua arguments of one tick
 * to `args` (job id, name, data JSON, options JSON, due ms, whether to trim
 * the runs index (runsTrimDue), whether the schedule is overlap=skip): the
 * job's name, data and options are the same that
 * BullMQ's add stores for it (`addJobTo`), so workers, the runs API and
 * BullMQ's own tools read it like any job. With `nowMs` before `atMs` it is
 * written ahead, a delayed job due at `atMs`.
 */
export function pushTickJobArgs(args: string[], spec: ScheduleSpec, atMs: number, jobId: string, token: number, nowMs: number): void {
  const data = JSON.stringify(jobData(spec, atMs, 'cron', token));
  args.push(jobId, spec.name, data, JSON.stringify(jobOptions(spec, jobId, atMs, nowMs)), String(atMs),
    runsTrimDue(jobId) ? '1' : '0', spec.overlap === 'skip' ? '1' : '0');
}

/** isoOf: the ISO 8601 form of `ms`; thousands of ticks in a row share an instant, so the last one is kept. */
let lastIso = { ms: NaN, iso: '' };
function isoOf(ms: number): string {
  if (lastIso.ms !== ms) lastIso = { ms, iso: new Date(ms).toISOString() };
  return lastIso.iso;
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
  const job = new Job(queue, spec.name, jobData(spec, atMs, trigger, token), jobOptions(spec, jobId, atMs, nowMs), jobId);
  return (job.addJob(multi as never) as Promise<unknown>).catch(() => undefined);
}

/** jobData: the data of a schedule's job for instant `atMs` (a tick's or a manual run's). */
function jobData(spec: ScheduleSpec, atMs: number, trigger: BatonJobData['trigger'], token: number): BatonJobData {
  return {
    schedule: spec.name, handler: spec.handler, scheduledFor: isoOf(atMs),
    fencingToken: token, payload: spec.data ?? null, timeoutMs: spec.timeoutMs, trigger,
  };
}
