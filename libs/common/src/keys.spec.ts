import { batonKeys, RUNS_TRIM_EVERY, runsTrimDue } from './keys';
import { tickJobId } from './job';

describe('batonKeys', () => {
  it('puts every key of a deployment, BullMQ job keys included, under the prefix hash tag', () => {
    const k = batonKeys('baton');
    expect(k.job('a@1')).toBe('{baton}:jobs:a@1');
    expect(k.jobsCompleted).toBe('{baton}:jobs:completed');
    expect(k.runs('a')).toBe('{baton}:runs:a');
  });
});

describe('runsTrimDue', () => {
  it.each([
    ['every second', 1_000],
    ['every minute', 60_000],
    ['daily', 86_400_000],
  ])('is due for about one tick in RUNS_TRIM_EVERY of a schedule firing %s', (_label, stepMs) => {
    const ids = Array.from({ length: 20_000 }, (_, i) => tickJobId('report', 1_700_000_000_000 + i * stepMs));
    const due = ids.filter(runsTrimDue).length;
    const expected = ids.length / RUNS_TRIM_EVERY;
    expect(due).toBeGreaterThan(expected * 0.7);
    expect(due).toBeLessThan(expected * 1.3);
  });
});
