import { planBatch, sortTicks, splitBatches, type Tick } from './enqueue-plan';
import type { ScheduleSpec } from './schedule-spec';

const spec = (name: string, overlap: 'allow' | 'skip' = 'allow') => ({ name, overlap }) as ScheduleSpec;
const tick = (s: ScheduleSpec, fireAtMs: number): Tick => ({ spec: s, fireAtMs });

describe('sortTicks', () => {
  it('orders by instant (the earliest instant of every schedule first), keeps the given order within one, and drops exact duplicates', () => {
    const a = spec('a'), b = spec('b'), c = spec('c');
    const sorted = sortTicks([tick(b, 2), tick(a, 3), tick(c, 1), tick(a, 1), tick(a, 3), tick(b, 1)]);
    expect(sorted.map((t) => `${t.spec.name}${t.fireAtMs}`)).toEqual(['c1', 'a1', 'b1', 'b2', 'a3']);
  });

  it('drops duplicates given by distinct spec objects of one schedule, and keeps equal instants of different schedules', () => {
    const sorted = sortTicks([tick(spec('b'), 5), tick(spec('a'), 5), tick(spec('b'), 5), tick(spec('a'), 5), tick(spec('a'), 6)]);
    expect(sorted.map((t) => `${t.spec.name}${t.fireAtMs}`)).toEqual(['b5', 'a5', 'a6']);
  });
});

describe('splitBatches', () => {
  it('cuts ticks into consecutive batches of at most the given size, keeping their order', () => {
    const a = spec('a');
    const batches = splitBatches([1, 2, 3, 4, 5].map((at) => tick(a, at)), 2);
    expect(batches.map((b) => b.map((t) => t.fireAtMs))).toEqual([[1, 2], [3, 4], [5]]);
    expect(splitBatches([], 2)).toEqual([]);
  });
});

describe('planBatch', () => {
  it('drops ticks at or before the cursor as already enqueued and moves the cursor to the newest', () => {
    const a = spec('a');
    const plan = planBatch([tick(a, 1000), tick(a, 2000), tick(a, 3000)], { cursors: new Map([['a', 2000]]), activeRunning: new Set() });
    expect(plan.enqueue.map((t) => t.fireAtMs)).toEqual([3000]);
    expect(plan.skipped.map((s) => [s.tick.fireAtMs, s.reason])).toEqual([[1000, 'already-enqueued'], [2000, 'already-enqueued']]);
    expect(plan.newCursors).toEqual(new Map([['a', 3000]]));
  });

  it('skips overlap=skip ticks while a run is active or after one enqueued in the same batch, still moving the cursor', () => {
    const busy = spec('busy', 'skip'), free = spec('free', 'skip'), many = spec('many');
    const plan = planBatch(
      [tick(busy, 1), tick(free, 1), tick(free, 2), tick(many, 1), tick(many, 2)],
      { cursors: new Map(), activeRunning: new Set(['busy']) },
    );
    expect(plan.enqueue.map((t) => `${t.spec.name}${t.fireAtMs}`)).toEqual(['free1', 'many1', 'many2']);
    expect(plan.skipped.map((s) => `${s.tick.spec.name}${s.tick.fireAtMs}:${s.reason}`)).toEqual(['busy1:overlap', 'free2:overlap']);
    expect(plan.newCursors).toEqual(new Map([['busy', 1], ['free', 2], ['many', 2]]));
  });
});
