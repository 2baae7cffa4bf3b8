import { batonKeys, RUNS_KEPT, runsTrimDue, tickJobId, type BatonJobData } from '@lib/common';
import { jobOptions, pushTickJobArgs, writeTicksHead } from './bull-jobs';
import { validateScheduleInput } from './validate-schedule';
import type { ScheduleSpec } from './schedule-spec';

function spec(input: Record<string, unknown>): ScheduleSpec {
  const result = validateScheduleInput({ cron: '* * * * * *', handler: 'log', ...input }, { handlers: new Set(['log']) });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
}

describe('pushTickJobArgs', () => {
  const T = Date.parse('2026-11-27T10:00:00Z');
  const specs = [
    spec({ name: 'plain' }),
    spec({ name: 'tricky', data: { text: '"scheduledFor":"1970-01-01T00:00:00.000Z","fencingToken":0,', nl: 'a\nb', u: 'é✓' },
      attempts: 5, backoff: { type: 'exponential', delayMs: 250 }, timeoutMs: 1234, overlap: 'skip' }),
    spec({ name: 'nested', data: { list: [1, { deep: true }], empty: {} } }),
  ];

  it.each(specs.map((s) => [s.name, s]))('writes %s exactly as JSON.stringify of its job data and options, due and ahead', (_name, s) => {
    for (const [atMs, nowMs] of [[T, T + 5], [T, T], [T + 3500, T]]) {
      const args: string[] = [];
      const jobId = tickJobId(s.name, atMs);
      pushTickJobArgs(args, s, atMs, jobId, 42, nowMs);
      pushTickJobArgs(args, s, atMs, jobId, 42, nowMs); // the second reuses the instant's ISO string
      const data: BatonJobData = { schedule: s.name, handler: 'log', scheduledFor: new Date(atMs).toISOString(), fencingToken: 42,
        payload: s.data ?? null, timeoutMs: s.timeoutMs, trigger: 'cron' };
      const expected = [jobId, s.name, JSON.stringify(data), JSON.stringify(jobOptions(s, jobId, atMs, nowMs)), String(atMs),
        runsTrimDue(jobId) ? '1' : '0', s.overlap === 'skip' ? '1' : '0'];
      expect(args).toEqual([...expected, ...expected]);
    }
  });

  it('heads the arguments with the key prefixes, RUNS_KEPT, the timestamp and the fence', () => {
    const keys = batonKeys('p');
    expect(writeTicksHead(keys, T, { leaseValue: '7:n', rev: 3 })).toEqual(['{p}:jobs:', '{p}:runs:', String(RUNS_KEPT), String(T), '7:n', '3']);
  });
});
