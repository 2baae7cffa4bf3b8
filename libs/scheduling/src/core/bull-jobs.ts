import { Job, type JobsOptions, type Queue } from 'bullmq';
import { JOB_RETENTION, RUNS_KEPT, runsTrimDue, tickJobId, type BatonJobData, type BatonKeys, type PipelineResults } from '@lib/common';
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
    // BullMQ's job hash is the run record (RunHistory)
    removeOnComplete: { ...JOB_RETENTION.removeOnComplete },
    removeOnFail: { ...JOB_RETENTION.removeOnFail },
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
 * writeTicksArgs: the arguments of one writeTicks-10.lua call after its keys:
 * the head (jobs and runs key prefixes, RUNS_KEPT, the job timestamp
 * `nowMs`, the lease value, schedules revision and fencing token of the
 * fence, how many shapes and instants follow), each distinct shape of the
 * batch's jobs (three strings, TickShape), each distinct instant (epoch ms
 * and its ISO 8601 form), then five per tick: schedule name, instant ms, its
 * shape's index (from 1), flags (1: trim the runs index after adding to it,
 * runsTrimDue; 2: overlap=skip), payload JSON. The script joins each job's
 * id, data JSON and options JSON from these exactly as BullMQ's add stores
 * them (`addJobTo`): ~50 bytes per tick plus the payload instead of the
 * ~450 of the whole job, and no job JSON to build per tick, which was most
 * of what the leader spent per tick (stringifying, encoding, garbage). A
 * tick whose instant is after `nowMs` is written ahead, a delayed job due at
 * that instant. Also returns the ticks' job ids, in order.
 */
export function writeTicksArgs(keys: BatonKeys, nowMs: number, fence: { leaseValue: string; rev: number; fencingToken: number },
  ticks: readonly { spec: ScheduleSpec; fireAtMs: number }[]): { args: string[]; jobIds: string[] } {
  const shapeIndex = new Map<string, number>();
  const shapes: string[] = [];
  const instants = new Set<number>();
  const perTick: string[] = [];
  const jobIds: string[] = [];
  for (const { spec, fireAtMs } of ticks) {
    // names are [a-z0-9._-] (validateScheduleInput), which JSON leaves as they are: the script quotes them itself
    if (NEEDS_ESCAPES.test(spec.name)) throw new Error(`writeTicks: schedule name ${JSON.stringify(spec.name)} needs JSON escapes`);
    const shape = tickShape(spec);
    let index = shapeIndex.get(shape.key);
    if (index === undefined) {
      shapeIndex.set(shape.key, (index = shapeIndex.size + 1));
      shapes.push(shape.dataMid, shape.dataTail, shape.optsTail);
    }
    instants.add(fireAtMs);
    const jobId = tickJobId(spec.name, fireAtMs);
    jobIds.push(jobId);
    const flags = (runsTrimDue(jobId) ? 1 : 0) + (spec.overlap === 'skip' ? 2 : 0);
    perTick.push(spec.name, String(fireAtMs), String(index), String(flags), JSON.stringify(spec.data ?? null));
  }
  const args = [keys.jobsPrefix, keys.runsPrefix, String(RUNS_KEPT), String(nowMs), fence.leaseValue, String(fence.rev),
    String(fence.fencingToken), String(shapeIndex.size), String(instants.size), ...shapes];
  for (const ms of instants) args.push(String(ms), isoOf(ms));
  for (const arg of perTick) args.push(arg);
  return { args, jobIds };
}

/** NEEDS_ESCAPES: what JSON.stringify would escape in a string. */
const NEEDS_ESCAPES = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * TickShape: what the tick jobs of schedules with one handler, timeout and
 * retry settings share, as the JSON pieces writeTicks-10.lua joins with each
 * tick's name, instant, job id, payload, the fencing token and the timing,
 * in the key order of `jobData` and `jobOptions`:
 *   data = '{"schedule":"' name dataMid ISO '","fencingToken":' token ',"payload":' payload dataTail
 *   opts = '{"jobId":"' name '@' ms '"' [',"timestamp":' now ',"delay":' d] optsTail
 * `key` names the spec fields the pieces come from: a field that jobData or
 * jobOptions come to read must join it (the unit test compares the joins
 * with both for varied schedules).
 */
interface TickShape {
  key: string;
  dataMid: string;
  dataTail: string;
  optsTail: string;
}
/** SHAPES: the shapes seen lately, by key (a deployment has a few; emptied when it holds more than SHAPES_KEPT). */
const SHAPES = new Map<string, TickShape>();
const SHAPES_KEPT = 1000;

/** tickShape: the TickShape of `spec`'s tick jobs. */
function tickShape(spec: ScheduleSpec): TickShape {
  const key = `${spec.handler}\n${spec.timeoutMs}\n${spec.attempts}\n${spec.backoff.type}\n${spec.backoff.delayMs}`;
  let shape = SHAPES.get(key);
  if (shape) return shape;
  const data = JSON.stringify({ ...jobData(spec, 0, 'cron', 0), payload: null });
  const opts = JSON.stringify(jobOptions(spec, spec.name));
  const dataHead = `{"schedule":"${spec.name}"`;
  const middle = `,"scheduledFor":"${new Date(0).toISOString()}","fencingToken":0,"payload":null`;
  const optsHead = `{"jobId":"${spec.name}"`;
  const at = data.indexOf(middle);
  if (!data.startsWith(dataHead) || at < 0 || !opts.startsWith(optsHead)) throw new Error('writeTicks: job data or options changed shape (see TickShape)');
  shape = {
    key, dataMid: `"${data.slice(dataHead.length, at)},"scheduledFor":"`, dataTail: data.slice(at + middle.length), optsTail: opts.slice(optsHead.length),
  };
  if (SHAPES.size >= SHAPES_KEPT) SHAPES.clear();
  SHAPES.set(key, shape);
  return shape;
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
