import type { EventLogger } from '@lib/common';
import type { EnqueueFence, EnqueueResult, PromoteOutcome } from './fenced-enqueuer';
import type { Tick } from './enqueue-plan';
import type { ScheduleSpec } from './schedule-spec';
import { SchedulingRun, type LagReport } from './scheduling-run';
import { validateScheduleInput } from './validate-schedule';

const T0 = Date.parse('2026-01-01T00:00:10Z');

function spec(name: string, extra: Record<string, unknown> = {}): ScheduleSpec {
  const result = validateScheduleInput({ name, cron: '* * * * * *', handler: 'log', ...extra }, { handlers: new Set(['log']) });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return { ...result.value, createdAt: new Date(T0 - 60_000).toISOString() };
}

const byName = (specs: ScheduleSpec[]) => new Map(specs.map((s) => [s.name, s]));

/** Starts a run over `specs` and `cursors` at T0 and returns what it enqueued and logged. */
async function firstPass(specs: ScheduleSpec[], cursors: Map<string, number>,
  opts: { lost?: boolean; knownNames?: Set<string>; infoOff?: boolean } = {}) {
  const calls: Tick[][] = [];
  const logged: { event: string; facts: Record<string, unknown> }[] = [];
  const logger: EventLogger = {
    log: (_level, event, _msg, facts = {}) => logged.push({ event, facts }),
    ...(opts.infoOff ? { enabled: (level: string) => level !== 'info' && level !== 'debug' } : {}),
  };
  const enqueuer = {
    // like FencedEnqueuer: batches of 500 (in the order given), each reported through onBatch when given
    enqueueTicks: async (_fence: EnqueueFence, ticks: readonly Tick[], onBatch?: (part: EnqueueResult) => void): Promise<EnqueueResult> => {
      calls.push([...ticks]);
      const enqueued = ticks.map((t) => ({ ...t, jobId: `${t.spec.name}@${t.fireAtMs}`, enqueuedAtMs: T0 + 5, ahead: false }));
      if (!onBatch) return { enqueued, skipped: [], stale: false };
      for (let i = 0; i < enqueued.length; i += 500) onBatch({ enqueued: enqueued.slice(i, i + 500), skipped: [], stale: false });
      return { enqueued: [], skipped: [], stale: false };
    },
    promoteTicks: async (): Promise<PromoteOutcome[]> => { throw new Error('nothing is written ahead here'); },
  };
  const run = new SchedulingRun({
    store: { snapshot: async () => ({ rev: 1, specs: byName(specs), cursors }), detectDataLoss: async () => ({ lost: opts.lost ?? false }) },
    enqueuer, logger, clock: { nowMs: () => T0, monotonicMs: () => 0 }, catchUpWindowMs: 600_000, writeAheadMs: 0, retryDelayMs: 1000,
    fence: { leaseValue: '1:n', fencingToken: 1 }, knownNames: opts.knownNames ?? new Set(), isValid: () => true, onStop: () => undefined,
  });
  await run.start();
  await run.stop();
  return { calls, logged };
}

describe('SchedulingRun', () => {
  beforeEach(() => jest.useFakeTimers({ now: T0 }));
  afterEach(() => jest.useRealTimers());

  it('catches each schedule up from its own cursor and misfire policy in one enqueue call', async () => {
    const specs = [spec('a'), spec('b', { misfire: 'latest' }), spec('c'), spec('d'), spec('e', { misfire: 'none' })];
    const cursors = new Map([['a', T0 - 3000], ['b', T0 - 3000], ['c', T0 - 3000], ['d', T0 - 1000], ['e', T0 - 3000]]);
    const { calls } = await firstPass(specs, cursors);
    expect(calls).toHaveLength(1);
    expect(calls[0].map((t) => `${t.spec.name}${t.fireAtMs - T0}`)).toEqual(['a-2000', 'a-1000', 'a0', 'b0', 'c-2000', 'c-1000', 'c0', 'd0', 'e0']);
  });

  it('writes ticks writeAheadMs ahead (overlap=skip ones only when they come) and logs each when its promotion moved it', async () => {
    jest.setSystemTime(T0 + 200);
    const written: Tick[] = [];
    const promoted: { ids: string[]; atMs: number; nowMs: number }[] = [];
    const logged: { event: string; facts: Record<string, unknown> }[] = [];
    const enqueuer = {
      enqueueTicks: async (_f: EnqueueFence, ticks: readonly Tick[], onBatch?: (part: EnqueueResult) => void): Promise<EnqueueResult> => {
        written.push(...ticks);
        const enqueued = ticks.map((t) => ({ ...t, jobId: `${t.spec.name}@${t.fireAtMs}`, enqueuedAtMs: Date.now(), ahead: t.fireAtMs > Date.now() }));
        onBatch?.({ enqueued, skipped: [], stale: false });
        return { enqueued: [], skipped: [], stale: false };
      },
      // 'ahead' was withdrawn by a schedule change before its instant: no schedule.fired for it
      promoteTicks: async (ids: readonly string[], atMs: number): Promise<PromoteOutcome[]> => {
        promoted.push({ ids: [...ids], atMs, nowMs: Date.now() });
        return ids.map((id) => (id.startsWith('gone@') ? 'gone' : 'moved'));
      },
    };
    const run = new SchedulingRun({
      store: { snapshot: async () => ({ rev: 1, specs: byName([spec('ahead'), spec('gone'), spec('skip', { overlap: 'skip' })]),
        cursors: new Map(['ahead', 'gone', 'skip'].map((n) => [n, T0])) }),
        detectDataLoss: async () => ({ lost: false }) },
      enqueuer, logger: { log: (_l, event, _m, facts = {}) => logged.push({ event, facts }) }, clock: { nowMs: () => Date.now(), monotonicMs: () => 0 },
      catchUpWindowMs: 600_000, writeAheadMs: 2000, retryDelayMs: 1000, fence: { leaseValue: '1:n', fencingToken: 1 },
      knownNames: new Set(), isValid: () => true, onStop: () => undefined,
    });
    await run.start();
    // at T0+200: the instants T0+1 s and T0+2 s of the every-second schedules, not of the overlap=skip one
    expect(written.map((t) => `${t.spec.name}@${t.fireAtMs - T0}`).sort()).toEqual(['ahead@1000', 'ahead@2000', 'gone@1000', 'gone@2000']);
    expect(promoted).toEqual([]);
    await jest.advanceTimersByTimeAsync(800); // T0+1000
    expect(promoted).toHaveLength(1); // one promotion per instant, once the wall clock reached it
    expect(promoted[0]).toEqual({ ids: [`ahead@${T0 + 1000}`, `gone@${T0 + 1000}`], atMs: T0 + 1000, nowMs: T0 + 1000 });
    expect(written.filter((t) => t.spec.name === 'skip').map((t) => t.fireAtMs - T0)).toEqual([1000]); // when node-cron fired it
    const fired = logged.filter((l) => l.event === 'schedule.fired').map((l) => `${String(l.facts.jobId)}:${String(l.facts.lagMs)}`);
    expect(fired).toEqual(expect.arrayContaining([`ahead@${T0 + 1000}:0`]));
    expect(fired.some((f) => f.startsWith('gone@'))).toBe(false);
    await run.stop();
    await jest.advanceTimersByTimeAsync(5000); // stopped: no promotion is left behind (workers promote what a lost leadership leaves)
    expect(promoted.every((p) => p.atMs <= T0 + 1000)).toBe(true);
  });

  it('at an instant it announced early, looks only at the overlap=skip schedules; at one it did not, at every schedule', async () => {
    jest.setSystemTime(T0 + 200);
    const enqueuer = {
      enqueueTicks: async (_f: EnqueueFence, ticks: readonly Tick[], onBatch?: (part: EnqueueResult) => void): Promise<EnqueueResult> => {
        onBatch?.({ enqueued: ticks.map((t) => ({ ...t, jobId: `${t.spec.name}@${t.fireAtMs}`, enqueuedAtMs: Date.now(), ahead: t.fireAtMs > Date.now() })),
          skipped: [], stale: false });
        return { enqueued: [], skipped: [], stale: false };
      },
      promoteTicks: async (ids: readonly string[]): Promise<PromoteOutcome[]> => ids.map(() => 'moved'),
    };
    const run = new SchedulingRun({
      store: { snapshot: async () => ({ rev: 1, specs: byName([spec('a'), spec('b'), spec('skip', { overlap: 'skip' })]),
        cursors: new Map(['a', 'b', 'skip'].map((n) => [n, T0])) }), detectDataLoss: async () => ({ lost: false }) },
      enqueuer, logger: { log: () => undefined }, clock: { nowMs: () => Date.now(), monotonicMs: () => 0 },
      catchUpWindowMs: 600_000, writeAheadMs: 2000, retryDelayMs: 1000, fence: { leaseValue: '1:n', fencingToken: 1 },
      knownNames: new Set(), isValid: () => true, onStop: () => undefined,
    });
    await run.start();
    const internals = run as unknown as { planSchedule(s: ScheduleSpec, memo: { endMs: number }): void;
      onCronTick(key: string, instantMs: number, early: boolean): void };
    const plan = jest.spyOn(internals, 'planSchedule');
    const planned = (instantMs: number) => plan.mock.calls.filter(([, memo]) => memo.endMs === instantMs).map(([s]) => s.name).sort();
    await jest.advanceTimersByTimeAsync(800); // T0+1 s: node-cron's instant, and the early call for T0+3 s
    expect(planned(T0 + 1000)).toEqual(['skip']);
    expect(planned(T0 + 3000)).toEqual(['a', 'b']);
    const key = `${spec('a').timezone}\n* * * * * *`;
    internals.onCronTick(key, T0 + 9000, false); // an instant never announced early (say its timer was lost)
    expect(planned(T0 + 9000)).toEqual(['a', 'b', 'skip']);
    // the names are looked up in the specs loaded last: one deleted since (a reload swapped the specs and yields) is not planned
    (run as unknown as { specs: Map<string, ScheduleSpec> }).specs.delete('skip');
    internals.onCronTick(key, T0 + 2000, false);
    expect(planned(T0 + 2000)).toEqual([]);
    await run.stop();
  });

  it('reports to onLag per promotion and per batch written ahead or straight to wait (catch-up: from the term start), not writes due before it', async () => {
    jest.setSystemTime(T0 + 200);
    const reports: LagReport[] = [];
    const enqueuer = {
      // one batch per tick, in Redis 30 ms after it was drafted (the instant T0+3 s: 1,200 ms)
      enqueueTicks: async (_f: EnqueueFence, ticks: readonly Tick[], onBatch?: (part: EnqueueResult) => void): Promise<EnqueueResult> => {
        for (const t of ticks) {
          const enqueuedAtMs = Date.now() + (t.fireAtMs === T0 + 3000 ? 1200 : 30);
          onBatch?.({ enqueued: [{ ...t, jobId: `${t.spec.name}@${t.fireAtMs}`, enqueuedAtMs, ahead: t.fireAtMs > Date.now() }],
            skipped: [], stale: false });
        }
        return { enqueued: [], skipped: [], stale: false };
      },
      promoteTicks: async (ids: readonly string[]): Promise<PromoteOutcome[]> => ids.map(() => 'moved'),
    };
    const run = new SchedulingRun({
      store: { snapshot: async () => ({ rev: 1, specs: byName([spec('ahead'), spec('skip', { overlap: 'skip' }), spec('skip2', { overlap: 'skip' })]),
        cursors: new Map([['ahead', T0 - 2000], ['skip', T0], ['skip2', T0]]) }), detectDataLoss: async () => ({ lost: false }) },
      enqueuer, logger: { log: () => undefined }, clock: { nowMs: () => Date.now(), monotonicMs: () => 0 },
      catchUpWindowMs: 600_000, writeAheadMs: 2000, retryDelayMs: 1000, fence: { leaseValue: '1:n', fencingToken: 1 },
      knownNames: new Set(), isValid: () => true, onStop: () => undefined, onLag: (r) => reports.push(r),
    });
    await run.start();
    // ahead@-1000 and ahead@0: caught up, owed since the term began (T0+200); ahead@1000 and ahead@2000: written
    // ahead at once, due to be written (instant - writeAheadMs) before the term began: not reported
    expect(reports.splice(0)).toEqual([
      { atMs: T0 - 1000, readyAtMs: T0 + 230, lagMs: 30, count: 1, ahead: false },
      { atMs: T0, readyAtMs: T0 + 230, lagMs: 30, count: 1, ahead: false },
    ]);
    await jest.advanceTimersByTimeAsync(800); // T0+1000
    const at = T0 + 1000;
    expect(reports.sort((a, b) => a.lagMs - b.lagMs)).toEqual([
      { atMs: at, readyAtMs: at, lagMs: 0, count: 1, ahead: false }, // the promotion of ahead@1000
      { atMs: at, readyAtMs: at + 30, lagMs: 30, count: 1, ahead: false }, // skip@1000, written when it came, one batch
      { atMs: at, readyAtMs: at + 30, lagMs: 30, count: 1, ahead: false }, // skip2@1000, the next batch
      // ahead@3000, written ahead when T0+1 s came: lag from halfway through the 2 s write-ahead, T0+2 s
      { atMs: T0 + 3000, readyAtMs: at + 1200, lagMs: 200, count: 1, ahead: true },
    ]);
    await run.stop();
  });

  it('promotes at their instants the ticks an earlier leader wrote ahead (cursor after now), without writing them again', async () => {
    jest.setSystemTime(T0 + 200);
    const written: string[] = [];
    const promoted: string[] = [];
    const run = new SchedulingRun({
      store: { snapshot: async () => ({ rev: 1, specs: byName([spec('inherited')]), cursors: new Map([['inherited', T0 + 2000]]) }),
        detectDataLoss: async () => ({ lost: false }) },
      enqueuer: {
        enqueueTicks: async (_f: EnqueueFence, ticks: readonly Tick[]) => {
          written.push(...ticks.map((t) => `${t.spec.name}@${t.fireAtMs}`));
          return { enqueued: [], skipped: [], stale: false };
        },
        promoteTicks: async (ids: readonly string[]) => { promoted.push(...ids); return ids.map((): PromoteOutcome => 'moved'); },
      },
      logger: { log: () => undefined }, clock: { nowMs: () => Date.now(), monotonicMs: () => 0 },
      catchUpWindowMs: 600_000, writeAheadMs: 2000, retryDelayMs: 1000, fence: { leaseValue: '2:n', fencingToken: 2 },
      knownNames: new Set(), isValid: () => true, onStop: () => undefined,
    });
    await run.start();
    await jest.advanceTimersByTimeAsync(1900); // T0+2100
    expect(promoted).toEqual([`inherited@${T0 + 1000}`, `inherited@${T0 + 2000}`]);
    expect(written.filter((id) => id <= `inherited@${T0 + 2000}`)).toEqual([]);
    await run.stop();
  });

  it('reports every enqueued tick as schedule.fired with its instant and lag, and the caught-up count per schedule', async () => {
    const specs = Array.from({ length: 300 }, (_, i) => spec(`s${i}`));
    const cursors = new Map(specs.map((s) => [s.name, T0 - 2000]));
    const { logged } = await firstPass(specs, cursors);
    const fired = logged.filter((l) => l.event === 'schedule.fired');
    expect(fired).toHaveLength(600);
    expect(fired[0].facts).toEqual({ schedule: 's0', scheduledFor: new Date(T0 - 1000).toISOString(), jobId: `s0@${T0 - 1000}`, lagMs: 1005 });
    expect(fired[1].facts).toMatchObject({ schedule: 's0', scheduledFor: new Date(T0).toISOString(), lagMs: 5 });
    const caughtUp = logged.filter((l) => l.event === 'schedule.caught-up');
    expect(caughtUp).toHaveLength(300);
    expect(caughtUp[0].facts).toEqual({ schedule: 's0', count: 1 });
  });

  it('logs one schedule.caught-up per schedule even when its missed ticks span several enqueue batches', async () => {
    const { logged } = await firstPass([spec('long')], new Map([['long', T0 - 600_000]]));
    expect(logged.filter((l) => l.event === 'schedule.fired')).toHaveLength(600);
    expect(logged.filter((l) => l.event === 'schedule.caught-up')).toEqual([{ event: 'schedule.caught-up', facts: { schedule: 'long', count: 599 } }]);
  });

  it('builds no schedule.fired line when the logger drops info, and still counts the caught-up ticks', async () => {
    const { logged, calls } = await firstPass([spec('quiet')], new Map([['quiet', T0 - 3000]]), { infoOff: true });
    expect(calls[0]).toHaveLength(3);
    expect(logged.filter((l) => l.event === 'schedule.fired')).toEqual([]);
    expect(logged.filter((l) => l.event === 'schedule.caught-up')).toEqual([{ event: 'schedule.caught-up', facts: { schedule: 'quiet', count: 2 } }]);
  });

  it('reports the schedules an earlier term knew when Redis comes back without its data, and remembers the new set', async () => {
    const knownNames = new Set(['kept', 'gone-1', 'gone-2']);
    const { logged } = await firstPass([spec('kept')], new Map([['kept', T0]]), { lost: true, knownNames });
    const missing = logged.filter((l) => l.event === 'schedules.missing');
    expect(missing).toEqual([{ event: 'schedules.missing', facts: { names: ['gone-1', 'gone-2'], count: 2 } }]);
    expect([...knownNames]).toEqual(['kept']);
  });

  it('does not report data loss when Redis kept its data', async () => {
    const { logged } = await firstPass([spec('a')], new Map([['a', T0]]), { knownNames: new Set(['a', 'deleted-meanwhile']) });
    expect(logged.filter((l) => l.event === 'schedules.missing')).toEqual([]);
  });
});
