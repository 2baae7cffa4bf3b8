import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { batonKeys, defineLuaCommands, systemClock, throwFirstError, type BatonKeys, type Clock } from '@lib/common';
import { addJobTo, addRunsEntry, bullClientOf, queueScriptKeys, writeTicksArgs } from './bull-jobs';
import { sortTicks, splitBatches, type SkippedTick, type Tick } from './enqueue-plan';
import { FencedOffError } from './scheduling.errors';
import { SchedulingMessages } from './scheduling.messages';
import type { ScheduleSpec } from './schedule-spec';

/**
 * ENQUEUE_BATCH_SIZE: ticks per writeTicks call (default of the `batchSize`
 * option). One call blocks Redis while it runs, about 25 µs per job (job
 * hash, queue entry, events, runs index, cursor; 0.23 s of Redis CPU for
 * 10,000 in the enqueue bench): ~6 ms for 250, during which workers, the
 * lease renewal and the promotion of a due instant wait. Measured with
 * bullmq's per-job add script (3-4x the Redis time), 250 to 2,000
 * enqueued 10,000 ticks equally fast, so the smallest stall won.
 */
export const ENQUEUE_BATCH_SIZE = 250;
/**
 * AHEAD_BATCH_SIZE: ticks per writeTicks call for ticks written ahead (due
 * after the call is drafted; default of the `aheadBatchSize` option). They
 * are not urgent, while the workers draining the instant that is due wait
 * behind each call: every worker has one call in flight at a time (~0.4 ms
 * for 10 jobs), so a leader writing the next instant in calls of 250 (~5 ms
 * each) took ~90 % of Redis while it wrote, and each instant's 10,000 ticks
 * written half a second before the instant, or a new leader's first
 * seconds written at once, held the drain back by up to a second. In calls
 * of 50, 10,000 every-second schedules on three nodes (firelag, same hour,
 * alternating, two rounds): handler-start p99 498 / 539 ms against 1,213 /
 * 793 ms, and with the leader killed 1,273 / 1,143 against 1,964 / 1,418 ms;
 * the per-instant worst stayed under 650 ms at every steady instant, where
 * calls of 250 reached 0.8–1.3 s every few instants. Ticks due already
 * (a catch-up, an overlap=skip instant) still go 250 at a time.
 */
export const AHEAD_BATCH_SIZE = 50;
/** yieldToLoop resolves on the next turn of the event loop, after pending I/O and timers (the lease renewal among them). */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const LUA_DIR = join(__dirname, '../lua');

/** PROMOTE_CHUNK: job ids per promoteTicks call (~10 µs of Redis each: one call never blocks Redis for long). */
const PROMOTE_CHUNK = 1000;

/**
 * PromoteOutcome: what promoteTicks found for a job id: `moved` to wait now,
 * `earlier` no longer delayed (a worker promoted it first, or it ran),
 * `gone` (withdrawn by a schedule change), `not-due` still delayed.
 */
export type PromoteOutcome = 'moved' | 'earlier' | 'gone' | 'not-due';
const OUTCOMES: Record<string, PromoteOutcome> = { 1: 'moved', 2: 'earlier', 0: 'gone', '-1': 'not-due' };

/** FencedEnqueuerOptions: see FencedEnqueuer. */
export interface FencedEnqueuerOptions {
  /**
   * redis: a connection used only by this enqueuer and `queue`, so that
   * nothing else waits behind its batches. Create it with
   * `fencedConnectionOptions`.
   */
  redis: Redis;
  /** queue: a bullmq Queue built with `{ connection: redis, prefix: batonKeys(prefix).tag }`. */
  queue: Queue;
  prefix: string;
  clock?: Clock;
  /** batchSize: ticks per writeTicks call, ≥ 1 (default ENQUEUE_BATCH_SIZE; see there for the trade-off). */
  batchSize?: number;
  /** aheadBatchSize: ticks per writeTicks call for ticks written ahead, ≥ 1 (default AHEAD_BATCH_SIZE; see there). */
  aheadBatchSize?: number;
  /**
   * promoter: an ordinary connection (not `redis`) for promoteTicks, so that
   * promoting a due instant never queues behind the batches writing later
   * instants ahead on `redis` (default `redis`).
   */
  promoter?: Redis;
}

/**
 * fencedConnectionOptions: ioredis options of the enqueuer's connection.
 * `autoResendUnfulfilledCommands: false`: a batch in flight when the socket
 * drops fails (the run retries it from fresh state) instead of being replayed
 * later on the new socket. A replay would be safe (writeTicks checks the fence
 * and the cursors when it runs) but would arrive at an unknown time.
 */
export const fencedConnectionOptions = { maxRetriesPerRequest: null, autoResendUnfulfilledCommands: false } as const;

/** EnqueueFence: who is enqueueing: the lease value in Redis (`<token>:<nodeId>`), its token, and the schedules revision the ticks were computed from. */
export interface EnqueueFence {
  leaseValue: string;
  fencingToken: number;
  rev: number;
}

/**
 * EnqueuedTick: a tick that became job `jobId`, in Redis at `enqueuedAtMs`.
 * `ahead`: its instant had not come when the job was drafted, so it was
 * written as a delayed job due at that instant (see promoteTicks).
 */
export interface EnqueuedTick extends Tick {
  jobId: string;
  enqueuedAtMs: number;
  ahead: boolean;
}

/** EnqueueResult: what became of each tick. `stale` means schedules changed: reload and recompute. */
export interface EnqueueResult {
  enqueued: EnqueuedTick[];
  skipped: SkippedTick[];
  stale: boolean;
}

/**
 * FencedEnqueuer turns ticks into BullMQ jobs exactly once, and only while
 * the caller's lease is the one in Redis. A tick whose instant is still to
 * come is written ahead, as a BullMQ delayed job due at that instant:
 * `promoteTicks` moves it to wait when the instant comes, and any worker
 * promotes it by itself shortly after if nobody did. Each batch of ≤
 * ENQUEUE_BATCH_SIZE ticks is one call of writeTicks-10.lua, atomic in
 * Redis: it checks that the lease is the caller's (FencedOffError, nothing
 * written) and that the schedules revision is the one the ticks were
 * computed from (`stale`, nothing written: reload and recompute), drops
 * ticks at or before their schedule's cursor, skips overlap=skip ticks whose
 * previous run is still going, and writes the jobs, the cursors, the active
 * runs and the `runs:<name>` index. Nothing can come between the check and
 * the write, and a renewal of the caller's own lease changes nothing the
 * check reads. All calls are serialized on the connection.
 *
 * Speed: one round trip per batch, BullMQ's job format without BullMQ's
 * per-job script call (see writeTicks-10.lua), and the call of the next
 * batch is built while the previous one runs in Redis, so the client's
 * per-job work (a few short arguments per tick, command encoding) overlaps
 * Redis's.
 */
export class FencedEnqueuer {
  private readonly redis: Redis;
  private readonly promoter: Redis;
  private readonly queue: Queue;
  private readonly keys: BatonKeys;
  private readonly clock: Clock;
  private readonly batchSize: number;
  private readonly aheadBatchSize: number;
  private tail: Promise<unknown> = Promise.resolve();
  /** queueKeys: the BullMQ keys promoteTicks takes (queueScriptKeys); scriptKeys: those plus Baton's that writeTicks takes. */
  private readonly queueKeys: string[];
  private readonly scriptKeys: string[];

  constructor(options: FencedEnqueuerOptions) {
    for (const field of ['redis', 'queue', 'prefix'] as const) {
      if (!options?.[field]) throw new Error(SchedulingMessages.missingOption('FencedEnqueuer', field));
    }
    // The connection is ours alone: a batch in flight across a reconnect fails rather than being replayed (see fencedConnectionOptions).
    options.redis.options.autoResendUnfulfilledCommands = false;
    this.keys = batonKeys(options.prefix);
    const q = options.queue as unknown as { name: string; opts: { connection?: unknown; prefix?: string } };
    if (q.opts.connection !== options.redis || q.opts.prefix !== this.keys.tag || q.name !== this.keys.queueName) {
      throw new Error(`FencedEnqueuer: option queue must be Queue('${this.keys.queueName}', { connection: redis, prefix: '${this.keys.tag}' }) on the same redis`);
    }
    this.redis = options.redis;
    this.queue = options.queue;
    this.clock = options.clock ?? systemClock;
    this.batchSize = options.batchSize ?? ENQUEUE_BATCH_SIZE;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new Error('FencedEnqueuer: option batchSize must be an integer >= 1');
    this.aheadBatchSize = options.aheadBatchSize ?? AHEAD_BATCH_SIZE;
    if (!Number.isInteger(this.aheadBatchSize) || this.aheadBatchSize < 1) {
      throw new Error('FencedEnqueuer: option aheadBatchSize must be an integer >= 1');
    }
    this.promoter = options.promoter ?? options.redis;
    defineLuaCommands(this.promoter, LUA_DIR);
    defineLuaCommands(this.redis, LUA_DIR);
    this.queueKeys = queueScriptKeys(this.queue);
    const k = this.keys;
    this.scriptKeys = [...this.queueKeys, k.leader, k.schedulesRev, k.cursor, k.active];
  }

  /**
   * enqueueTicks enqueues `ticks` under `fence`, in batches; stops at the
   * first stale batch. Throws FencedOffError. With `onBatch`, each batch's
   * outcome goes there as soon as it is in Redis, and the result only says
   * whether schedules went stale (a catch-up of 100,000 ticks then holds no
   * list of 100,000 results).
   */
  enqueueTicks(fence: EnqueueFence, ticks: readonly Tick[], onBatch?: (part: EnqueueResult) => void): Promise<EnqueueResult> {
    return this.serialize(async () => {
      const all: EnqueueResult = { enqueued: [], skipped: [], stale: false };
      const batches = splitBatches(sortTicks(ticks), this.batchSize, { size: this.aheadBatchSize, afterMs: this.clock.nowMs() });
      if (batches.length === 0) return all;
      // sorting 100,000 ticks holds the event loop ~0.1 s: let the lease renewal (same loop) run before more
      if (batches.length > 1) await yieldToLoop();
      let draft = this.draft(batches[0], fence);
      for (let i = 0; i < batches.length; i++) {
        const batch = batches[i];
        let reply: WriteTicksReply | null = null;
        const done = draft;
        if (!all.stale) {
          const sent = this.send(draft);
          // 1. build the next batch's call while this one runs in Redis
          if (i + 1 < batches.length) draft = this.draft(batches[i + 1], fence);
          reply = await sent;
          if (reply[0] === 'fenced') throw new FencedOffError(fence.leaseValue, reply[1] ?? null);
          if (reply[0] === 'stale') all.stale = true;
        }
        const part: EnqueueResult = onBatch ? { enqueued: [], skipped: [], stale: all.stale } : all; // 2. this batch's outcome
        if (reply?.[0] !== 'ok') {
          for (const tick of batch) part.skipped.push({ tick, reason: 'stale-schedules' });
        } else {
          const enqueuedAtMs = this.clock.nowMs();
          batch.forEach((tick, j) => {
            const code = reply[j + 1];
            if (code === 1) {
              part.enqueued.push({ spec: tick.spec, fireAtMs: tick.fireAtMs, jobId: done.jobIds[j], enqueuedAtMs, ahead: tick.fireAtMs > done.draftedAtMs });
            } else {
              part.skipped.push({ tick, reason: code === 2 ? 'overlap' : 'already-enqueued' });
            }
          });
        }
        onBatch?.(part);
      }
      return all;
    });
  }

  /**
   * promoteTicks moves the jobs `jobIds` (ticks written ahead) that are due
   * at `nowMs` from BullMQ's delayed set to wait, waking the workers, and
   * tells what became of each (PromoteOutcome, in order). Unfenced and not
   * serialized behind enqueueTicks (it goes out on the `promoter`
   * connection): moving a due job to wait is what any worker does too, and
   * it changes nothing enqueueTicks checks. Call it at or after `nowMs` on
   * the wall clock, never before: nothing may run early.
   */
  async promoteTicks(jobIds: readonly string[], nowMs: number): Promise<PromoteOutcome[]> {
    const cmd = this.promoter as unknown as { promoteTicks(...args: (string | number)[]): Promise<number[]> };
    const calls: Promise<number[]>[] = [];
    for (let i = 0; i < jobIds.length; i += PROMOTE_CHUNK) {
      calls.push(cmd.promoteTicks(...this.queueKeys, this.keys.jobsPrefix, nowMs, ...jobIds.slice(i, i + PROMOTE_CHUNK)));
    }
    return (await Promise.all(calls)).flat().map((code) => OUTCOMES[String(code)]);
  }

  /** triggerNow enqueues a manual run of `spec` (any node, unfenced) and returns its job id. */
  triggerNow(spec: ScheduleSpec, nowMs: number): Promise<string> {
    return this.serialize(() => FencedEnqueuer.triggerNow(this.queue, spec, nowMs));
  }

  /**
   * FencedEnqueuer.triggerNow enqueues a manual run on any Queue of the
   * deployment (built with `prefix: batonKeys(prefix).tag`): job id
   * `<name>@manual-<nowMs>-<random>`, trigger 'manual', fencingToken 0, plus
   * its `runs:<name>` entry, in one MULTI.
   */
  static async triggerNow(queue: Queue, spec: ScheduleSpec, nowMs: number): Promise<string> {
    const tag = String((queue as unknown as { opts: { prefix?: string } }).opts.prefix ?? '');
    const keys = batonKeys(tag.replace(/^\{(.*)\}$/, '$1'));
    const jobId = `${spec.name}@manual-${nowMs}-${randomBytes(4).toString('hex')}`;
    const multi = (await bullClientOf(queue)).multi();
    const added = addJobTo(queue, multi, spec, nowMs, jobId, 'manual', 0);
    addRunsEntry(multi, keys, spec.name, nowMs, jobId);
    const results = await multi.exec();
    await added;
    throwFirstError(results);
    return jobId;
  }

  /** close closes the queue (the connection stays the caller's to quit). */
  async close(): Promise<void> {
    await this.tail;
    await this.queue.close();
  }

  /**
   * Builds the writeTicks call of `ticks` (the fence, the jobs' shapes, five
   * short arguments per tick: writeTicksArgs), client-side only: nothing is
   * sent before `send`, so the next batch's call is built while the previous
   * one runs in Redis. A tick whose instant is after now is written ahead,
   * due at its instant.
   */
  private draft(ticks: Tick[], fence: EnqueueFence): Draft {
    const draftedAtMs = this.clock.nowMs();
    const { args, jobIds } = writeTicksArgs(this.keys, draftedAtMs, fence, ticks);
    return { jobIds, args: [...this.scriptKeys, ...args], draftedAtMs };
  }

  /** Sends a draft: one writeTicks call (EVALSHA, or EVAL when Redis lacks the script). */
  private send(draft: Draft): Promise<WriteTicksReply> {
    return (this.redis as unknown as { writeTicks(...a: string[]): Promise<WriteTicksReply> }).writeTicks(...draft.args);
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** Draft: the writeTicks arguments (keys first) of a batch, whose job ids are `jobIds` (in its order); ticks after `draftedAtMs` are written ahead. */
interface Draft {
  jobIds: string[];
  args: string[];
  draftedAtMs: number;
}

/**
 * WriteTicksReply: writeTicks-10.lua's reply: fenced off (with the lease
 * found), stale schedules, or a code per tick: 1 enqueued, 0 at or before
 * its cursor (already enqueued), 2 skipped for overlap.
 */
type WriteTicksReply = ['fenced', string | null] | ['stale'] | ['ok', ...number[]];
