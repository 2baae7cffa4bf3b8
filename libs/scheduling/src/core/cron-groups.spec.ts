import { CronGroups, groupSchedules } from './cron-groups';
import type { ScheduleSpec } from './schedule-spec';

const spec = (name: string, cron: string): ScheduleSpec => ({ name, cron, timezone: 'UTC' } as ScheduleSpec);

describe('groupSchedules', () => {
  it('groups schedules by (cron, timezone), keeping their order within a group', () => {
    const zoned = { ...spec('c', '* * * * * *'), timezone: 'Europe/Paris' };
    const groups = groupSchedules([spec('a', '* * * * * *'), spec('b', '0 * * * * *'), zoned, spec('d', '* * * * * *')]);
    expect([...groups].map(([key, specs]) => [key, specs.map((s) => s.name)])).toEqual([
      ['UTC\n* * * * * *', ['a', 'd']], ['UTC\n0 * * * * *', ['b']], ['Europe/Paris\n* * * * * *', ['c']],
    ]);
  });
});

describe('CronGroups early wake-up (fake timers)', () => {
  beforeEach(() => jest.useFakeTimers({ now: Date.parse('2026-11-27T10:00:00.200Z') }));
  afterEach(() => jest.useRealTimers());

  it('calls onTick earlyMs before each instant with that instant, and again when node-cron fires it', async () => {
    const calls: { instant: string; atMs: number }[] = [];
    const groups = new CronGroups((_key, instantMs) => calls.push({ instant: new Date(instantMs).toISOString(), atMs: Date.now() }), { earlyMs: 100 });
    groups.sync(groupSchedules([spec('a', '* * * * * *'), spec('b', '* * * * * *')]));
    await jest.advanceTimersByTimeAsync(650); // 10:00:00.850
    expect(calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(50); // 10:00:00.900 = 1 s instant - 100 ms
    expect(calls).toEqual([{ instant: '2026-11-27T10:00:01.000Z', atMs: Date.parse('2026-11-27T10:00:00.900Z') }]);
    await jest.advanceTimersByTimeAsync(1_000);
    const instants = calls.map((c) => c.instant);
    expect(instants.filter((i) => i === '2026-11-27T10:00:01.000Z').length).toBeGreaterThanOrEqual(2); // early + node-cron
    expect(calls.find((c) => c.instant === '2026-11-27T10:00:02.000Z')?.atMs).toBe(Date.parse('2026-11-27T10:00:01.900Z'));
    groups.destroyAll();
    const before = calls.length;
    await jest.advanceTimersByTimeAsync(5_000);
    expect(calls.length).toBe(before);
  });

  it('with earlyMs spanning several instants, announces each one once: those inside it at once, the rest earlyMs ahead', async () => {
    const calls: { instant: string; atMs: number; early: boolean }[] = [];
    const groups = new CronGroups((_key, instantMs, early) => calls.push({ instant: new Date(instantMs).toISOString().slice(17, 23), atMs: Date.now() % 10_000, early }),
      { earlyMs: 2500 });
    groups.sync(groupSchedules([spec('a', '* * * * * *')]));
    expect(calls).toEqual([{ instant: '01.000', atMs: 200, early: true }, { instant: '02.000', atMs: 200, early: true }]);
    await jest.advanceTimersByTimeAsync(300); // 10:00:00.500 = 3 s instant - 2.5 s
    expect(calls[2]).toEqual({ instant: '03.000', atMs: 500, early: true });
    await jest.advanceTimersByTimeAsync(1_000); // node-cron's own call for 01.000 came in between
    const early = calls.filter((c) => c.early).map((c) => `${c.instant}@${c.atMs}`);
    expect(early).toEqual(['01.000@200', '02.000@200', '03.000@500', '04.000@1500']);
    expect(calls.filter((c) => !c.early).map((c) => c.instant)).toContain('01.000');
    groups.destroyAll();
  });

  it('never wakes early without earlyMs, and drops the wake-up of a group that is gone', async () => {
    const calls: number[] = [];
    const plain = new CronGroups((_key, instantMs) => calls.push(instantMs));
    plain.sync(groupSchedules([spec('a', '0 0 * * * *')]));
    const early = new CronGroups((_key, instantMs) => calls.push(instantMs), { earlyMs: 100 });
    early.sync(groupSchedules([spec('b', '0 0 * * * *')]));
    early.sync(groupSchedules([])); // group removed before its hour
    await jest.advanceTimersByTimeAsync(3_599_750); // 10:59:59.950: past where b would have woken (10:59:59.900), before 11:00
    expect(calls).toEqual([]);
    plain.destroyAll();
    early.destroyAll();
  });
});
