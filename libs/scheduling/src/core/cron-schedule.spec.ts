import { CronSchedule } from './cron-schedule';
import { cronCalendar, dueTicks, nextRunAt, suffixCalendar, type CronCalendar } from './catch-up';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('CronSchedule', () => {
  it('uses node-cron 4 internal matcher when it is there', () => {
    expect(new CronSchedule('* * * * *', 'UTC').usesInternalMatcher).toBe(true);
  });

  it('reads 5 fields as minutes and 6 fields as seconds first', () => {
    const five = new CronSchedule('*/15 * * * *', 'UTC');
    const six = new CronSchedule('*/15 * * * * *', 'UTC');
    expect(iso(five.nextAfter(at('2024-01-01T00:00:00Z'))!)).toBe('2024-01-01T00:15:00.000Z');
    expect(iso(six.nextAfter(at('2024-01-01T00:00:00Z'))!)).toBe('2024-01-01T00:00:15.000Z');
  });

  it('returns the next instant strictly after a time, also from inside a second', () => {
    const every = new CronSchedule('* * * * * *', 'UTC');
    expect(every.nextAfter(at('2024-01-01T00:00:05Z'))).toBe(at('2024-01-01T00:00:06Z'));
    expect(every.nextAfter(at('2024-01-01T00:00:05.999Z'))).toBe(at('2024-01-01T00:00:06Z'));
  });

  it('lists the instants of a half-open range, oldest first, bounded by limit', () => {
    const cron = new CronSchedule('*/15 * * * * *', 'UTC');
    const from = at('2024-01-01T00:00:00Z');
    expect(cron.instantsBetween(from, from + 60_000).map(iso)).toEqual([
      '2024-01-01T00:00:15.000Z', '2024-01-01T00:00:30.000Z', '2024-01-01T00:00:45.000Z', '2024-01-01T00:01:00.000Z',
    ]);
    expect(cron.instantsBetween(from, from + 60_000, 2)).toHaveLength(2);
    expect(cron.instantsBetween(from, from + 14_999)).toEqual([]);
  });

  it('applies the time zone: 02:30 in Berlin is 01:30Z in winter and 00:30Z in summer', () => {
    const cron = new CronSchedule('30 2 * * *', 'Europe/Berlin');
    expect(iso(cron.nextAfter(at('2024-01-10T00:00:00Z'))!)).toBe('2024-01-10T01:30:00.000Z');
    expect(iso(cron.nextAfter(at('2024-07-10T00:00:00Z'))!)).toBe('2024-07-10T00:30:00.000Z');
  });

  it('skips a local time that does not exist on the Berlin spring-forward day', () => {
    const cron = new CronSchedule('30 2 * * *', 'Europe/Berlin');
    const days = cron.instantsBetween(at('2024-03-30T12:00:00Z'), at('2024-04-01T12:00:00Z')).map(iso);
    expect(days).toEqual(['2024-04-01T00:30:00.000Z']);
    const hourly = new CronSchedule('0 * * * *', 'Europe/Berlin');
    expect(hourly.instantsBetween(at('2024-03-30T23:30:00Z'), at('2024-03-31T02:30:00Z')).map(iso)).toEqual([
      '2024-03-31T00:00:00.000Z', '2024-03-31T01:00:00.000Z', '2024-03-31T02:00:00.000Z',
    ]);
  });

  it('fires a repeated local time only once on the Berlin fall-back day', () => {
    const cron = new CronSchedule('30 2 * * *', 'Europe/Berlin');
    const days = cron.instantsBetween(at('2024-10-26T12:00:00Z'), at('2024-10-28T12:00:00Z')).map(iso);
    expect(days).toEqual(['2024-10-27T01:30:00.000Z', '2024-10-28T01:30:00.000Z']);
  });

  it('agrees with match() on every instant it returns across a DST change', () => {
    const cron = new CronSchedule('*/20 * * * *', 'Europe/Berlin');
    const instants = cron.instantsBetween(at('2024-10-26T22:00:00Z'), at('2024-10-27T04:00:00Z'));
    expect(instants.length).toBeGreaterThan(10);
    for (const ms of instants) expect(cron.matches(ms)).toBe(true);
    expect(new Set(instants).size).toBe(instants.length);
  });

  it('throws for an expression node-cron rejects', () => {
    expect(() => new CronSchedule('61 * * * *', 'UTC')).toThrow(/minute/);
  });
});

describe('dueTicks', () => {
  const everySecond = new CronSchedule('* * * * * *', 'UTC');
  const now = at('2024-01-01T12:00:10Z');
  const base = { nowMs: now, windowMs: 60_000, cron: everySecond as CronCalendar };

  it('enqueues every missed instant after the cursor for misfire all', () => {
    const due = dueTicks({ ...base, cursorMs: now - 4000, misfire: 'all' });
    expect(due).toEqual([now - 3000, now - 2000, now - 1000, now]);
  });

  it('enqueues only the newest missed instant for misfire latest', () => {
    expect(dueTicks({ ...base, nowMs: now + 500, cursorMs: now - 4000, misfire: 'latest' })).toEqual([now]);
  });

  it('enqueues no missed instant for misfire none', () => {
    expect(dueTicks({ ...base, nowMs: now + 500, cursorMs: now - 4000, misfire: 'none' })).toEqual([]);
  });

  it('never treats the live tick at now as a misfire', () => {
    expect(dueTicks({ ...base, cursorMs: now - 4000, misfire: 'none' })).toEqual([now]);
    expect(dueTicks({ ...base, cursorMs: now - 4000, misfire: 'latest' })).toEqual([now]);
  });

  it('treats every instant since liveSinceMs as live whatever the misfire policy', () => {
    const due = dueTicks({ ...base, cursorMs: now - 5000, misfire: 'none', liveSinceMs: now - 2500 });
    expect(due).toEqual([now - 2000, now - 1000, now]);
  });

  it('drops instants older than the window and keeps the one at its far edge excluded', () => {
    const due = dueTicks({ ...base, windowMs: 3000, cursorMs: now - 10_000, misfire: 'all' });
    expect(due).toEqual([now - 2000, now - 1000, now]);
  });

  it('returns nothing when the cursor is at or ahead of now', () => {
    expect(dueTicks({ ...base, cursorMs: now, misfire: 'all' })).toEqual([]);
    expect(dueTicks({ ...base, cursorMs: now + 5000, misfire: 'all' })).toEqual([]);
  });

  it('returns nothing when no instant falls in the range', () => {
    const hourly = cronCalendar('0 * * * *', 'UTC');
    expect(dueTicks({ ...base, cron: hourly, cursorMs: now - 5000, misfire: 'all' })).toEqual([]);
  });
});

describe('suffixCalendar', () => {
  it('answers every range ending at its end as the calendar does, whatever order the starts come in', () => {
    const base = cronCalendar('*/7 * * * * *', 'UTC');
    const endMs = Date.parse('2026-11-27T10:00:00.000Z');
    let calls = 0;
    const counting: CronCalendar = { instantsBetween: (a, b, l) => { calls++; return base.instantsBetween(a, b, l); } };
    const suffix = suffixCalendar(counting, endMs);
    const starts = [30_000, 200, 61_500, 0, 7_000, 120_000, 6_999, 59_999].map((back) => endMs - back);
    for (const from of starts) expect(suffix.instantsBetween(from, endMs)).toEqual(base.instantsBetween(from, endMs));
    expect(calls).toBe(3); // extended back only for 30 s, 61.5 s and 120 s
    // other ends and limits go to the calendar itself
    expect(suffix.instantsBetween(endMs - 60_000, endMs - 1000)).toEqual(base.instantsBetween(endMs - 60_000, endMs - 1000));
    expect(suffix.instantsBetween(endMs - 60_000, endMs, 2)).toEqual(base.instantsBetween(endMs - 60_000, endMs, 2));
    expect(suffix.instantsBetween(endMs, endMs)).toEqual([]);
  });
});

describe('nextRunAt', () => {
  it('gives the next instant as ISO, and null while paused', () => {
    const spec = { cron: '0 30 2 * * *', timezone: 'Europe/Berlin', paused: false };
    expect(nextRunAt(spec, at('2026-11-26T12:00:00Z'))).toBe('2026-11-27T01:30:00.000Z');
    expect(nextRunAt({ ...spec, paused: true }, at('2026-11-26T12:00:00Z'))).toBeNull();
  });
});
