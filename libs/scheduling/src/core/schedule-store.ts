import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { batonKeys, defineLuaCommands, systemClock, type BatonKeys, type Clock } from '@lib/common';
import { ScheduleExistsError, ScheduleWriteConflictError } from './scheduling.errors';
import { SchedulingMessages } from './scheduling.messages';
import type { ScheduleSpec } from './schedule-spec';

/** ScheduleStoreOptions: `redis` is any ordinary (non-subscriber) connection. */
export interface ScheduleStoreOptions {
  redis: Redis;
  prefix: string;
  /** clock: stamps createdAt/updatedAt and creation cursors (default systemClock). */
  clock?: Clock;
}

/** ScheduleChange: what the store publishes on every change. */
export interface ScheduleChange {
  op: 'create' | 'update' | 'delete';
  name: string;
  rev: number;
}

/** ScheduleSnapshot: every schedule with its cursor, read as of one revision, `rev`. */
export interface ScheduleSnapshot {
  rev: number;
  /** specs: name → schedule, in no particular order. */
  specs: Map<string, ScheduleSpec>;
  /** cursors: name → last instant (epoch ms) that became a job. */
  cursors: Map<string, number>;
}

/** DataLossCheck: `lost` when the meta key vanished or changed since this store last saw it. */
export interface DataLossCheck {
  lost: boolean;
  metaCreatedAt: number;
}

type WriteOp = 'create' | 'put' | 'delete';
interface WriteScheduleCommand {
  writeSchedule(...args: string[]): Promise<[number, number]>;
}

const CAS_ATTEMPTS = 10;
/** SCAN_COUNT: schedules per HSCAN call of a snapshot (~300 KB of JSON); SCAN_TRIES: streamed reads before one MULTI. */
const SCAN_COUNT = 1000;
const SCAN_TRIES = 3;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * ScheduleStore keeps schedule definitions in Redis (`schedules` hash). Every
 * change is one Lua step (writeSchedule-8.lua) that also bumps `schedulesRev`
 * and publishes `{op, name, rev}` on `schedulesChannel`, so a leader whose
 * writes are fenced by the revision never enqueues a tick of a schedule that
 * changed under it. Creating a schedule, resuming it, or changing its cron or time zone
 * raises its cursor to now: no tick from before that moment is owed.
 * Changing, pausing or deleting a schedule withdraws, in the same step, the
 * ticks a leader wrote ahead for it that are not due yet (see SchedulingRun):
 * nothing written for the old definition runs after the change.
 */
export class ScheduleStore {
  private readonly redis: Redis;
  private readonly keys: BatonKeys;
  private readonly clock: Clock;
  private seenMetaCreatedAt: number | null = null;

  constructor(options: ScheduleStoreOptions) {
    if (!options?.redis) throw new Error(SchedulingMessages.missingOption('ScheduleStore', 'redis'));
    if (!options.prefix) throw new Error(SchedulingMessages.missingOption('ScheduleStore', 'prefix'));
    this.redis = options.redis;
    this.keys = batonKeys(options.prefix);
    this.clock = options.clock ?? systemClock;
    defineLuaCommands(this.redis, join(__dirname, '../lua'));
  }

  /** put creates or replaces `spec` (keeping the stored createdAt); `created` tells which. */
  async put(spec: ScheduleSpec): Promise<{ created: boolean; spec: ScheduleSpec }> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const currentJson = await this.redis.hget(this.keys.schedules, spec.name);
      const current = currentJson ? (JSON.parse(currentJson) as ScheduleSpec) : null;
      // Idempotent: the same definition again changes nothing (no rev bump, no re-arm, same updatedAt).
      if (current && sameDefinition(current, spec)) return { created: false, spec: current };
      const nowMs = this.clock.nowMs();
      const next = { ...spec, createdAt: current?.createdAt ?? iso(nowMs), updatedAt: iso(nowMs) };
      const [code] = await this.write('put', next, currentJson ?? '', owesNoPastTicks(current, next) ? nowMs : null);
      if (code >= 0) return { created: code === 1, spec: next };
    }
    throw new ScheduleWriteConflictError(spec.name);
  }

  /** create adds `spec`; throws ScheduleExistsError (atomically) if the name is taken. */
  async create(spec: ScheduleSpec): Promise<ScheduleSpec> {
    const nowMs = this.clock.nowMs();
    const next = { ...spec, createdAt: iso(nowMs), updatedAt: iso(nowMs) };
    const [code] = await this.write('create', next, '', next.paused ? null : nowMs);
    if (code === -2) throw new ScheduleExistsError(spec.name);
    return next;
  }

  /** get returns one schedule, or null. */
  async get(name: string): Promise<ScheduleSpec | null> {
    const json = await this.redis.hget(this.keys.schedules, name);
    return json ? (JSON.parse(json) as ScheduleSpec) : null;
  }

  /** list returns every schedule, sorted by name. */
  async list(): Promise<ScheduleSpec[]> {
    return parseAll(await this.redis.hvals(this.keys.schedules));
  }

  /** delete removes a schedule (and its ticks written ahead); false if there was none. Its cursor stays, so its instants never repeat. */
  async delete(name: string): Promise<boolean> {
    const [code] = await this.writeRaw('delete', name, '', '', null);
    return code === 1;
  }

  /** setPaused pauses or resumes; resuming raises the cursor to now (paused ticks are never owed). Null if unknown. */
  async setPaused(name: string, paused: boolean): Promise<ScheduleSpec | null> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const currentJson = await this.redis.hget(this.keys.schedules, name);
      if (!currentJson) return null;
      const current = JSON.parse(currentJson) as ScheduleSpec;
      if (current.paused === paused) return current;
      const nowMs = this.clock.nowMs();
      const next = { ...current, paused, updatedAt: iso(nowMs) };
      const [code] = await this.write('put', next, currentJson, paused ? null : nowMs);
      if (code >= 0) return next;
    }
    throw new ScheduleWriteConflictError(name);
  }

  /** rev returns the current schedules revision (0 before the first change). */
  async rev(): Promise<number> {
    return Number((await this.redis.get(this.keys.schedulesRev)) ?? 0);
  }

  /**
   * snapshot reads every schedule, the revision and every cursor, as of one
   * revision. It streams: HSCAN chunks of the schedules, then of the
   * cursors, each chunk decoded while Redis serves the next, between two
   * reads of the revision; a change in between (every change raises the
   * revision) reads again. Only the leader that loads
   * writes cursors otherwise, and it does not while it loads. At 100,000
   * schedules one MULTI of HVALS + HGETALL made ~35 MB of replies that all
   * lived at once (300,000 Buffers and strings) and most of a new leader's
   * peak memory. That MULTI is still the last resort, after SCAN_TRIES
   * streamed reads that schedule changes overtook: it always succeeds.
   */
  async snapshot(): Promise<ScheduleSnapshot> {
    const k = this.keys;
    for (let attempt = 0; attempt < SCAN_TRIES; attempt++) {
      const rev = await this.rev();
      const specs = new Map<string, ScheduleSpec>(); // HSCAN may return a field twice
      await this.scanHash(k.schedules, SCAN_COUNT, (name, json) => specs.set(name, JSON.parse(json) as ScheduleSpec));
      const cursors = new Map<string, number>();
      await this.scanHash(k.cursor, SCAN_COUNT * 5, (name, ms) => cursors.set(name, Number(ms)));
      if ((await this.rev()) === rev) return { rev, specs, cursors };
    }
    return this.snapshotAtOnce();
  }

  /** snapshotAtOnce reads the snapshot in one MULTI (HVALS: each JSON holds its name). */
  private async snapshotAtOnce(): Promise<ScheduleSnapshot> {
    // `call('HGETALL')` skips ioredis's reply transformer (keyed by the lower-case name), which builds an
    // object of 100,000 keys only to be copied into a Map; either shape is read below.
    const results = await this.redis.multi()
      .hvals(this.keys.schedules).get(this.keys.schedulesRev).call('HGETALL', this.keys.cursor).exec();
    if (!results) throw new Error('ScheduleStore.snapshot: transaction aborted');
    const err = results.find(([e]) => e)?.[0];
    if (err) throw err;
    const [specs, rev, pairs] = results.map(([, v]) => v) as [string[], string | null, string[] | Record<string, string>];
    const cursors = new Map<string, number>();
    if (Array.isArray(pairs)) {
      for (let i = 0; i < pairs.length; i += 2) cursors.set(pairs[i], Number(pairs[i + 1]));
    } else {
      for (const [name, ms] of Object.entries(pairs)) cursors.set(name, Number(ms));
    }
    const byName = new Map<string, ScheduleSpec>();
    for (const json of specs) {
      const spec = JSON.parse(json) as ScheduleSpec;
      byName.set(spec.name, spec);
    }
    return { rev: Number(rev ?? 0), specs: byName, cursors };
  }

  /** scanHash calls `each` for every field of hash `key` (HSCAN, about `count` a call, the next call in flight while a chunk is handled). */
  private async scanHash(key: string, count: number, each: (field: string, value: string) => void): Promise<void> {
    let next = this.redis.hscan(key, '0', 'COUNT', count);
    for (;;) {
      const [cursor, flat] = await next;
      if (cursor !== '0') next = this.redis.hscan(key, cursor, 'COUNT', count);
      for (let i = 0; i < flat.length; i += 2) each(flat[i], flat[i + 1]);
      if (cursor === '0') return;
    }
  }



  /**
   * detectDataLoss writes the meta key if missing and reports whether Redis
   * lost its data since this store last looked: the meta key it had seen is
   * gone or was written anew. The first call only learns the current meta.
   */
  async detectDataLoss(): Promise<DataLossCheck> {
    await this.redis.hsetnx(this.keys.meta, 'createdAt', String(this.clock.nowMs()));
    const metaCreatedAt = Number(await this.redis.hget(this.keys.meta, 'createdAt'));
    const lost = this.seenMetaCreatedAt !== null && this.seenMetaCreatedAt !== metaCreatedAt;
    this.seenMetaCreatedAt = metaCreatedAt;
    return { lost, metaCreatedAt };
  }

  /**
   * subscribeChanges subscribes `subscriber` (a dedicated connection; it
   * enters subscriber mode) to schedule changes and calls `onChange` for each.
   * Resolves once subscribed, with a function that unsubscribes.
   */
  async subscribeChanges(subscriber: Redis, onChange: (change: ScheduleChange) => void): Promise<() => Promise<void>> {
    const channel = this.keys.schedulesChannel;
    const listener = (ch: string, message: string) => {
      if (ch !== channel) return;
      try {
        onChange(JSON.parse(message) as ScheduleChange);
      } catch {
        // a malformed message is not ours to act on
      }
    };
    subscriber.on('message', listener);
    await subscriber.subscribe(channel);
    return async () => {
      subscriber.off('message', listener);
      await subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }

  private write(op: WriteOp, spec: ScheduleSpec, expected: string, raiseCursorMs: number | null) {
    return this.writeRaw(op, spec.name, JSON.stringify(spec), expected, raiseCursorMs);
  }

  private async writeRaw(op: WriteOp, name: string, json: string, expected: string, raiseCursorMs: number | null) {
    const k = this.keys;
    const cmd = this.redis as unknown as WriteScheduleCommand;
    const [code, rev] = await cmd.writeSchedule(k.schedules, k.schedulesRev, k.cursor, k.meta, k.jobsDelayed, k.runs(name), k.jobsEvents, k.jobsMeta,
      op, name, json, expected, raiseCursorMs === null ? '' : String(raiseCursorMs), String(this.clock.nowMs()),
      k.schedulesChannel, k.jobsPrefix);
    return [Number(code), Number(rev)] as const;
  }
}

/** A new, resumed or re-timed schedule owes no tick from before now. */
function owesNoPastTicks(current: ScheduleSpec | null, next: ScheduleSpec): boolean {
  if (next.paused) return false;
  if (!current || current.paused) return true;
  return current.cron !== next.cron || current.timezone !== next.timezone;
}

/** parseAll parses stored schedule JSONs, sorted by name. */
function parseAll(values: string[]): ScheduleSpec[] {
  return values.map((json) => JSON.parse(json) as ScheduleSpec).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** sameDefinition: equal in every field a user sets (createdAt/updatedAt aside). */
function sameDefinition(a: ScheduleSpec, b: ScheduleSpec): boolean {
  const strip = ({ createdAt: _c, updatedAt: _u, ...rest }: ScheduleSpec) => rest;
  return canonicalJson(strip(a)) === canonicalJson(strip(b));
}

/** canonicalJson: JSON with object keys sorted, so key order does not matter. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)))
    : v));
}
