import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { batonKeys, defineLuaCommands, systemClock, throwFirstError, tickJobId, type BatonKeys, type Clock, type PipelineResults } from '@lib/common';
import { addJobTo, addRunsEntry, bullClientOf, pushTickJobArgs, queueScriptKeys, writeTicksHead, type BullMulti } from './bull-jobs';
import { planBatch, sortTicks, splitBatches, type BatchPlan, type SkippedTick, type Tick } from './enqueue-plan';
import { FencedOffError } from './scheduling.errors';
import { SchedulingMessages } from './scheduling.messages';
import type { ScheduleSpec } from './schedule-spec';

/**
 * ENQUEUE_BATCH_SIZE: ticks per WATCH/MULTI (default of the `batchSize`
 * option). One MULTI blocks Redis for its whole EXEC, about 25 µs per job
 * (writeTicks: job hash, queue entry, events, runs index; 0.23 s of Redis
 * CPU for 10,000 in the enqueue bench): ~6 ms for 250, during which
 * workers, the lease renewal and the promotion of a due instant wait.
 * Measured with bullmq's per-job add script (3-4x the Redis time), 250 to
 * 2,000 enqueued 10,000 ticks equally fast, so the smallest stall won.
 */
export const ENQUEUE_BATCH_SIZE = 250;
const WATCH_RETRIES = 10;
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
   * redis: a DEDICATED connection used only by this enqueuer and `queue`
   * (WATCH state is per connection). Create it with `fencedConnectionOptions`.
   */
  redis: Redis;
  /** queue: a bullmq Queue built with `{ connection: redis, prefix: batonKeys(prefix).tag }`. */
  queue: Queue;
  prefix: string;
  clock?: Clock;
  /** batchSize: ticks per WATCH/MULTI, ≥ 1 (default ENQUEUE_BATCH_SIZE; see there for the trade-off). */
  batchSize?: number;
  /**
   * promoter: an ordinary connection (not `redis`) for promoteTicks, so that
   * promoting a due instant never queues behind the MULTIs writing later
   * instants ahead on `redis` (default `redis`).
   */
  promoter?: Redis;
}

/**
 * fencedConnectionOptions: ioredis options the enqueuer's connection needs.
 * `autoResendUnfulfilledCommands: false` stops ioredis from replaying a
 * MULTI/EXEC on a new connection after a reconnect, where the WATCH (the
 * fence) would be gone.
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
 * promotes it by itself shortly after if nobody did. Per batch of ≤ ENQUEUE_BATCH_SIZE
 * ticks it WATCHes the term (the fencing-token counter every election
 * raises), the schedules revision, the cursors and the active runs, reads
 * the lease and those keys, drops ticks at or before their schedule's
 * cursor, and writes the jobs, the cursors, the active runs and the
 * `runs:<name>` index in one MULTI. If any watched key changed meanwhile
 * (another leader was elected, a schedule changed), EXEC does nothing and
 * the batch is retried; a lease that is no longer ours throws
 * FencedOffError with nothing written. The lease key itself is read, not
 * watched: its renewal (every lease / 4) would abort every batch in flight
 * across it, and under load, when a WATCH-to-EXEC round trip takes longer
 * than that, no batch would ever get through. All calls are serialized on
 * the connection.
 *
 * Speed: a batch's jobs are one writeTicks script call (BullMQ's job format
 * without BullMQ's per-job script call; see writeTicks-6.lua), and the MULTI
 * of the next batch is built (client-side only, nothing is sent) while the
 * previous EXEC runs in Redis, so the client's per-job work (job JSON,
 * command encoding) overlaps Redis's. The draft assumes
 * every tick of its batch is due; when the read shows otherwise it is thrown
 * away and the MULTI is built from the plan.
 */
export class FencedEnqueuer {
  private readonly redis: Redis;
  private readonly promoter: Redis;
  private readonly queue: Queue;
  private readonly keys: BatonKeys;
  private readonly clock: Clock;
  private readonly batchSize: number;
  private tail: Promise<unknown> = Promise.resolve();
  private connectionEpoch = 0;
  /** queueKeys: the BullMQ keys writeTicks and promoteTicks take (queueScriptKeys). */
  private readonly queueKeys: string[];

  constructor(options: FencedEnqueuerOptions) {
    for (const field of ['redis', 'queue', 'prefix'] as const) {
      if (!options?.[field]) throw new Error(SchedulingMessages.missingOption('FencedEnqueuer', field));
    }
    // The connection is ours alone: make sure ioredis never replays a MULTI on a new socket (see fencedConnectionOptions).
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
    this.redis.on('close', () => { this.connectionEpoch++; });
    this.promoter = options.promoter ?? options.redis;
    defineLuaCommands(this.promoter, LUA_DIR);
    defineLuaCommands(this.redis, LUA_DIR);
    this.queueKeys = queueScriptKeys(this.queue);
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
      const batches = splitBatches(sortTicks(ticks), this.batchSize);
      if (batches.length === 0) return all;
      // sorting 100,000 ticks holds the event loop ~0.1 s: let the lease renewal (same loop) run before more
      if (batches.length > 1) await yieldToLoop();
      const drafts: (Draft | undefined)[] = [this.draft(batches[0], fence.fencingToken)];
      for (let i = 0; i < batches.length; i++) {
        const next = batches[i + 1];
        const done = all.stale ? null : await this.enqueueBatch(fence, batches[i], drafts[i], () => {
          // 1. build the next MULTI while this EXEC runs
          if (next && !drafts[i + 1]) drafts[i + 1] = this.draft(next, fence.fencingToken);
        });
        drafts[i] = undefined;
        if (!done) all.stale = true;
        const part: EnqueueResult = onBatch ? { enqueued: [], skipped: [], stale: all.stale } : all; // 2. this batch's outcome
        if (!done) {
          for (const tick of batches[i]) part.skipped.push({ tick, reason: 'stale-schedules' });
        } else {
          const enqueuedAtMs = this.clock.nowMs();
          done.plan.enqueue.forEach((t, j) => part.enqueued.push({
            spec: t.spec, fireAtMs: t.fireAtMs, jobId: done.jobIds[j], enqueuedAtMs, ahead: t.fireAtMs > done.draftedAtMs,
          }));
          for (const skipped of done.plan.skipped) part.skipped.push(skipped);
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
   * it touches no key enqueueTicks WATCHes. Call it at or after `nowMs` on
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
   * its `runs:<name>` entry, in one MULTI. Never give it the queue of a
   * FencedEnqueuer (its connection holds WATCHes); use the instance method.
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

  /** One batch; null when schedules changed (stale). `whileInFlight` runs once: right after the EXEC is sent, or on success without one. */
  private async enqueueBatch(fence: EnqueueFence, batch: Tick[], draft: Draft | undefined,
    whileInFlight: () => void): Promise<BatchDone | null> {
    let pending: (() => void) | undefined = whileInFlight;
    const once = () => { pending?.(); pending = undefined; };
    try {
      const done = await this.tryEnqueueBatch(fence, batch, draft, once);
      if (done) once(); // the next batch still needs its draft when this one sent no EXEC
      return done;
    } catch (err) {
      await this.redis.unwatch().catch(() => undefined); // never leave a WATCH behind for the next caller
      throw err;
    }
  }

  private async tryEnqueueBatch(fence: EnqueueFence, batch: Tick[], draft: Draft | undefined,
    whileInFlight: () => void): Promise<BatchDone | null> {
    for (let attempt = 0; attempt < WATCH_RETRIES; attempt++) {
      const epoch = this.connectionEpoch;
      const state = await this.readUnderWatch(batch);
      if (state.scriptMissing) {
        // 0. Redis lacks the script the MULTI calls by SHA: load it and read again (see writeTicksScript).
        await this.redis.unwatch();
        await this.redis.script('LOAD', this.writeTicksScript().lua);
        continue;
      }
      if (state.lease !== fence.leaseValue) {
        await this.redis.unwatch();
        throw new FencedOffError(fence.leaseValue, state.lease);
      }
      if (state.rev !== fence.rev) {
        await this.redis.unwatch();
        return null;
      }
      const plan = planBatch(batch, state);
      if (plan.newCursors.size === 0) {
        await this.redis.unwatch();
        return { plan, jobIds: [], draftedAtMs: 0 };
      }
      // 1. A draft holds every tick of the batch: usable only when all of them are due (the live case).
      const jobs: Draft = draft?.ticks.length === plan.enqueue.length ? draft : this.draft(plan.enqueue, fence.fencingToken);
      draft = undefined; // a MULTI is sent at most once
      if (await this.tryExec(jobs, plan, epoch, whileInFlight)) return { plan, jobIds: jobs.jobIds, draftedAtMs: jobs.draftedAtMs };
    }
    throw new Error(`FencedEnqueuer: watched keys kept changing; gave up after ${WATCH_RETRIES} attempts`);
  }

  private async readUnderWatch(batch: Tick[]) {
    const k = this.keys;
    const specs = new Map(batch.map((t) => [t.spec.name, t.spec]));
    const names = [...specs.keys()];
    const skipNames = names.filter((n) => specs.get(n)!.overlap === 'skip');
    const p = this.redis.pipeline().watch(k.term, k.schedulesRev, k.cursor, k.active).get(k.leader).get(k.schedulesRev);
    p.script('EXISTS', this.writeTicksScript().sha);
    p.hmget(k.cursor, ...names);
    if (skipNames.length) p.hmget(k.active, ...skipNames);
    const res = unwrap(await p.exec());
    const loaded = res[3] as number[];
    const cursorValues = res[4] as (string | null)[];
    const cursors = new Map<string, number>();
    names.forEach((n, i) => cursorValues[i] !== null && cursors.set(n, Number(cursorValues[i])));
    const activeIds = skipNames.length ? (res[5] as (string | null)[]) : [];
    return {
      scriptMissing: !loaded[0],
      lease: res[1] as string | null,
      rev: Number(res[2] ?? 0),
      cursors,
      activeRunning: await this.runningOf(skipNames, activeIds),
    };
  }

  /** The overlap=skip schedules whose active job hash exists without finishedOn (still queued or running). */
  private async runningOf(names: string[], jobIds: (string | null)[]): Promise<Set<string>> {
    const running = new Set<string>();
    const pending = names.flatMap((name, i) => { const id = jobIds[i]; return id === null ? [] : [{ name, id }]; });
    if (pending.length === 0) return running;
    const p = this.redis.pipeline();
    for (const { id } of pending) p.hmget(this.keys.job(id), 'name', 'finishedOn');
    const res = unwrap(await p.exec());
    pending.forEach(({ name }, i) => {
      const [jobName, finishedOn] = res[i] as (string | null)[];
      if (jobName !== null && finishedOn === null) running.add(name);
    });
    return running;
  }

  /**
   * writeTicksScript: writeTicks as defined on the connection (sha, lua).
   * ioredis marks a script as loaded on a socket as soon as it WRITES an EVAL
   * of it; inside WATCH/MULTI an aborted EXEC never runs that EVAL, and every
   * later MULTI would call EVALSHA and fail with NOSCRIPT (found by the chaos
   * suite). So each batch checks SCRIPT EXISTS in its WATCH read and loads
   * the script when it is missing before it sends a MULTI; this also covers a
   * Redis restart or a SCRIPT FLUSH.
   */
  private writeTicksScript(): { sha: string; lua: string } {
    return (this.redis as unknown as { scriptsSet: Record<string, { sha: string; lua: string }> }).scriptsSet.writeTicks;
  }

  /**
   * Queues the jobs of `ticks` and their `runs:<name>` entries (one
   * writeTicks call) on a new MULTI, client-side only: nothing is sent before tryExec,
   * so a draft may be built before its batch's WATCH and simply dropped when
   * it does not fit the plan. A tick whose instant is after now is written
   * ahead, due at its instant.
   */
  private draft(ticks: Tick[], fencingToken: number): Draft {
    const multi = this.redis.multi();
    const jobIds: string[] = [];
    const draftedAtMs = this.clock.nowMs();
    const args = writeTicksHead(this.keys, draftedAtMs);
    for (const t of ticks) {
      const jobId = tickJobId(t.spec.name, t.fireAtMs);
      pushTickJobArgs(args, t.spec, t.fireAtMs, jobId, fencingToken, draftedAtMs);
      jobIds.push(jobId);
    }
    (multi as unknown as { writeTicks(...a: string[]): unknown }).writeTicks(...this.queueKeys, ...args);
    return { ticks, jobIds, multi, draftedAtMs };
  }

  /** Sends the draft plus the plan's cursors and active runs as one MULTI; false when WATCH fired (or the connection changed), so the caller retries. */
  private async tryExec(draft: Draft, plan: BatchPlan, epoch: number, whileInFlight: () => void): Promise<boolean> {
    // Synchronous from this check to exec(): the MULTI goes out on the connection that holds the WATCH.
    if (epoch !== this.connectionEpoch || this.redis.status !== 'ready') return false;
    const k = this.keys;
    const { multi } = draft;
    const cursors: Record<string, string> = {};
    for (const [name, ms] of plan.newCursors) cursors[name] = String(ms);
    multi.hset(k.cursor, cursors);
    const active: Record<string, string> = {};
    let anyActive = false;
    plan.enqueue.forEach((t, i) => { if (t.spec.overlap === 'skip') { active[t.spec.name] = draft.jobIds[i]; anyActive = true; } });
    if (anyActive) multi.hset(k.active, active);
    const sent = multi.exec();
    whileInFlight();
    const results = await sent;
    if (results === null) return false;
    throwFirstError(results);
    return true;
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** Draft: a MULTI with the jobs of `ticks` queued (ids in `jobIds`), not sent yet; ticks after `draftedAtMs` are written ahead. */
interface Draft {
  ticks: Tick[];
  jobIds: string[];
  multi: BullMulti;
  draftedAtMs: number;
}

/** BatchDone: a batch that is in Redis: its plan, the ids of the jobs written, and when their draft was made. */
interface BatchDone {
  plan: BatchPlan;
  jobIds: string[];
  draftedAtMs: number;
}

function unwrap(results: PipelineResults): unknown[] {
  if (!results) throw new Error('FencedEnqueuer: pipeline returned no results');
  throwFirstError(results);
  return results.map(([, v]) => v);
}

