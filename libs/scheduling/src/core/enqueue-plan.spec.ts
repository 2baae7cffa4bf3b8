import { sortTicks, splitBatches, type Tick } from './enqueue-plan';
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

  it('cuts the ticks due after `ahead.afterMs` into batches of `ahead.size`, the ones due before in batches of `size`', () => {
    const a = spec('a');
    const ticks = [1, 2, 3, 4, 5, 6, 7, 8].map((at) => tick(a, at));
    const batches = splitBatches(ticks, 3, { size: 2, afterMs: 4 });
    expect(batches.map((b) => b.map((t) => t.fireAtMs))).toEqual([[1, 2, 3], [4, 5, 6], [7, 8]]); // [4, 5, 6]: begins at 4, not after it
    expect(splitBatches(ticks, 3, { size: 2, afterMs: 0 }).map((b) => b.length)).toEqual([2, 2, 2, 2]);
    expect(splitBatches(ticks, 3, { size: 2, afterMs: 8 }).map((b) => b.length)).toEqual([3, 3, 2]);
  });
});
