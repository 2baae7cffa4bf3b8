import { ConcurrencyGovernor } from './concurrency-governor';

const governor = () => new ConcurrencyGovernor({ maxConcurrency: 10, lateMs: 100, quietMs: 5000 });

describe('ConcurrencyGovernor', () => {
  it('halves the limit on each late report down to 0, cuts deeper the later it is, and on-time reports change nothing', () => {
    const g = governor();
    expect(g.limit).toBe(10);
    expect([150, 101, 200, 180, 300].map((lag, i) => g.noteLag(lag, i * 1000))).toEqual([5, 2, 1, 0, 0]);
    expect(governor().noteLag(400, 0)).toBe(2); // a quarter: lateMs / lag
    expect(governor().noteLag(999, 0)).toBe(1);
    expect(governor().noteLag(1001, 0)).toBe(0);
    expect([100, 3, 0].map((lag, i) => g.noteLag(lag, 5000 + i * 1000))).toEqual([0, 0, 0]);
  });

  it('doubles the limit (0 to 1) each quietMs without a late report, up to the maximum', () => {
    const g = governor();
    g.noteLag(150, 10_000);
    g.noteLag(150, 11_000);
    expect(g.limit).toBe(2);
    expect(g.noteTime(15_999)).toBe(2); // quietMs counts from the last late report
    expect(g.noteTime(16_000)).toBe(4);
    expect(g.noteTime(20_999)).toBe(4); // and from the last step up
    expect(g.noteTime(21_000)).toBe(8);
    expect(g.noteTime(26_000)).toBe(10);
    expect(g.noteTime(99_000)).toBe(10);
    for (const [i, lag] of [900, 900, 900, 900].entries()) g.noteLag(lag, 100_000 + i);
    expect(g.limit).toBe(0);
    g.noteLag(900, 104_000); // late again before quietMs passed: the wait starts over
    expect(g.noteTime(108_999)).toBe(0);
    expect(g.noteTime(109_000)).toBe(1);
    expect(governor().noteTime(0)).toBe(10); // never late: the maximum
  });

  it.each([
    [{ maxConcurrency: 0 }, 'option "maxConcurrency" must be a positive integer, got 0'],
    [{ lateMs: 0 }, 'option "lateMs" must be a positive number, got 0'],
    [{ quietMs: Number.NaN }, 'option "quietMs" must be a positive number, got NaN'],
  ])('rejects %j naming the field', (over, message) => {
    expect(() => new ConcurrencyGovernor({ maxConcurrency: 4, lateMs: 100, quietMs: 5000, ...over })).toThrow(message);
  });
});
