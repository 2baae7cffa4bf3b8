// node-cron's timeMatcher is internal; this proves CronSchedule still works without it.
jest.mock('node-cron', () => {
  const actual = jest.requireActual('node-cron');
  return {
    ...actual,
    createTask: (cron: string, fn: () => void, opts: object) => {
      const task = actual.createTask(cron, fn, opts);
      return { match: (d: Date) => task.match(d), destroy: () => task.destroy() };
    },
  };
});

import { CronSchedule } from './cron-schedule';

describe('CronSchedule without node-cron internals', () => {
  it('falls back to stepping second by second with match()', () => {
    const cron = new CronSchedule('*/20 * * * * *', 'Europe/Berlin');
    expect(cron.usesInternalMatcher).toBe(false);
    const from = Date.parse('2024-10-27T00:59:50Z');
    expect(cron.instantsBetween(from, from + 55_000).map((ms) => new Date(ms).toISOString())).toEqual([
      '2024-10-27T01:00:00.000Z', '2024-10-27T01:00:20.000Z', '2024-10-27T01:00:40.000Z',
    ]);
  });
});
