import type { Redis } from 'ioredis';
import { batonKeys, type Clock } from '@lib/common';
import { ScheduleExistsError, ScheduleStore, validateScheduleInput, type ScheduleChange, type ScheduleSpec } from '@lib/scheduling';
import { connectTo, startRedisServer, type RedisServerHandle } from '../support/redis-server';

function spec(name: string, extra: Record<string, unknown> = {}): ScheduleSpec {
  const result = validateScheduleInput({ name, cron: '* * * * * *', handler: 'log', ...extra }, { handlers: new Set(['log']) });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
}

async function until<T>(probe: () => T | Promise<T>, deadlineMs = 3000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ScheduleStore on a real Redis', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let subscriber: Redis;
  let nowMs = Date.parse('2026-01-01T00:00:00Z');
  const clock: Clock = { nowMs: () => nowMs, monotonicMs: () => nowMs };
  let prefix: string;
  let keys: ReturnType<typeof batonKeys>;
  let store: ScheduleStore;
  let seq = 0;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = await connectTo(server);
    subscriber = await connectTo(server);
  });
  afterAll(async () => {
    await subscriber.quit();
    await redis.quit();
    await server.cleanup();
  });
  beforeEach(() => {
    prefix = `store-${++seq}`;
    keys = batonKeys(prefix);
    store = new ScheduleStore({ redis, prefix, clock });
  });
  afterEach(async () => {
    const found = await redis.keys(`{${prefix}}:*`);
    if (found.length) await redis.del(...found);
  });

  it('creates, replaces (keeping createdAt), gets, lists and deletes, bumping the revision each time', async () => {
    expect(await store.rev()).toBe(0);
    expect((await store.put(spec('b'))).created).toBe(true);
    nowMs += 1000;
    const replaced = await store.put(spec('b', { attempts: 7 }));
    expect(replaced.created).toBe(false);
    expect(replaced.spec.createdAt).toBe('2026-01-01T00:00:00.000Z');
    expect(replaced.spec.updatedAt).toBe('2026-01-01T00:00:01.000Z');
    await store.create(spec('a'));
    expect((await store.get('b'))?.attempts).toBe(7);
    expect(await store.get('zz')).toBeNull();
    expect((await store.list()).map((s) => s.name)).toEqual(['a', 'b']);
    expect(await store.delete('a')).toBe(true);
    expect(await store.delete('a')).toBe(false);
    expect(await store.rev()).toBe(4);
  });

  it('treats a PUT of the same definition as a no-op: no revision bump, same updatedAt', async () => {
    await store.put(spec('same', { data: { a: 1, b: [1, 2] } }));
    const rev = await store.rev();
    nowMs += 5000;
    const again = await store.put(spec('same', { data: { b: [1, 2], a: 1 } }));
    expect(again.created).toBe(false);
    expect(again.spec.updatedAt).toBe(new Date(nowMs - 5000).toISOString());
    expect(await store.rev()).toBe(rev);
    const changed = await store.put(spec('same', { data: { a: 2, b: [1, 2] } }));
    expect(changed.spec.updatedAt).toBe(new Date(nowMs).toISOString());
    expect(await store.rev()).toBe(rev + 1);
  });

  it('refuses to create a name that exists, changing nothing', async () => {
    await store.create(spec('dup'));
    const rev = await store.rev();
    await expect(store.create(spec('dup', { attempts: 9 }))).rejects.toBeInstanceOf(ScheduleExistsError);
    expect((await store.get('dup'))?.attempts).toBe(3);
    expect(await store.rev()).toBe(rev);
  });

  it('publishes {op, name, rev} for every change', async () => {
    const seen: ScheduleChange[] = [];
    const unsubscribe = await store.subscribeChanges(subscriber, (c) => seen.push(c));
    await store.put(spec('p'));
    await store.put(spec('p', { attempts: 2 }));
    await store.setPaused('p', true);
    await store.delete('p');
    await until(() => seen.length === 4);
    expect(seen).toEqual([
      { op: 'create', name: 'p', rev: 1 }, { op: 'update', name: 'p', rev: 2 },
      { op: 'update', name: 'p', rev: 3 }, { op: 'delete', name: 'p', rev: 4 },
    ]);
    await unsubscribe();
  });

  it('sets the cursor to the creation instant, and raises it on resume or a new cron, never lowering it', async () => {
    await store.create(spec('c'));
    expect(await redis.hget(keys.cursor, 'c')).toBe(String(nowMs));
    nowMs += 5000;
    await store.put(spec('c', { data: { k: 1 } }));
    expect(await redis.hget(keys.cursor, 'c')).toBe(String(nowMs - 5000));
    await store.setPaused('c', true);
    nowMs += 5000;
    expect((await store.setPaused('c', false))?.paused).toBe(false);
    expect(await redis.hget(keys.cursor, 'c')).toBe(String(nowMs));
    await redis.hset(keys.cursor, 'c', String(nowMs + 60_000));
    await store.put(spec('c', { cron: '*/2 * * * * *' }));
    expect(await redis.hget(keys.cursor, 'c')).toBe(String(nowMs + 60_000));
    expect(await store.setPaused('missing', true)).toBeNull();
  });

  it('keeps the cursor of a deleted schedule so a re-created one never repeats an instant', async () => {
    await store.create(spec('d'));
    await store.delete('d');
    expect(await redis.hget(keys.cursor, 'd')).toBe(String(nowMs));
  });

  it('reads schedules, revision and cursors as one snapshot', async () => {
    await store.put(spec('s1'));
    await store.put(spec('s2', { paused: true }));
    const snap = await store.snapshot();
    expect(snap.rev).toBe(2);
    expect([...snap.specs.keys()].sort()).toEqual(['s1', 's2']);
    expect(snap.cursors).toEqual(new Map([['s1', nowMs]]));
  });

  it('reads an empty deployment, and each schedule exactly as stored, whatever its data holds', async () => {
    expect(await store.snapshot()).toEqual({ rev: 0, specs: new Map(), cursors: new Map() });
    const odd = await store.put(spec('odd', { data: { text: 'é✓ "q" \\ / \n ],[', list: [1, { deep: [] }], empty: {} } }));
    const plain = await store.put(spec('plain'));
    const snap = await store.snapshot();
    expect(snap.specs).toEqual(new Map([['odd', odd.spec], ['plain', plain.spec]]));
    expect(snap.cursors).toEqual(new Map([['odd', nowMs], ['plain', nowMs]]));
  });

  it('reads every schedule of many scan chunks once, and reads again when a schedule changes meanwhile', async () => {
    const names = Array.from({ length: 2500 }, (_, i) => `many-${i}`);
    for (let i = 0; i < names.length; i += 500) await Promise.all(names.slice(i, i + 500).map((n) => store.put(spec(n))));
    const raw = redis as unknown as { hscan: (...args: unknown[]) => unknown };
    const hscan = raw.hscan;
    let calls = 0;
    raw.hscan = function (this: unknown, ...args: unknown[]) {
      if (++calls === 2) void store.put(spec('late')); // lands between two chunks of the first read
      return hscan.apply(this, args);
    };
    try {
      const snap = await store.snapshot();
      expect(snap.rev).toBe(await store.rev());
      expect(snap.rev).toBe(2501);
      expect([...snap.specs.keys()].sort()).toEqual([...names, 'late'].sort());
      for (const [name, s] of snap.specs) expect(s.name).toBe(name);
      expect(snap.cursors.size).toBe(2501);
      expect(calls).toBeGreaterThan(6); // chunks of the schedules and cursors, twice
    } finally {
      raw.hscan = hscan;
    }
  });

  it('reads the snapshot in one step when schedule changes overtake every streamed read', async () => {
    await store.put(spec('steady'));
    const raw = redis as unknown as { hscan: (...args: unknown[]) => unknown };
    const hscan = raw.hscan;
    let changes = 0;
    raw.hscan = function (this: unknown, ...args: unknown[]) {
      void store.put(spec(`churn-${++changes}`)); // every chunk of every read sees a change
      return hscan.apply(this, args);
    };
    try {
      const snap = await store.snapshot();
      expect(snap.rev).toBe(await store.rev());
      expect([...snap.specs.keys()].sort()).toEqual(['steady', ...Array.from({ length: changes }, (_, i) => `churn-${i + 1}`)].sort());
      expect(snap.cursors.size).toBe(changes + 1);
    } finally {
      raw.hscan = hscan;
    }
  });

  it('detects that Redis came back without the data it had seen', async () => {
    expect((await store.detectDataLoss()).lost).toBe(false);
    await store.put(spec('kept'));
    expect((await store.detectDataLoss()).lost).toBe(false);
    await redis.del(keys.meta, keys.schedules);
    nowMs += 1;
    expect((await store.detectDataLoss()).lost).toBe(true);
    expect((await store.detectDataLoss()).lost).toBe(false);
  });
});
