import { batonKeys, RUNS_KEPT, runsTrimDue, tickJobId, type BatonJobData } from '@lib/common';
import { jobOptions, writeTicksArgs } from './bull-jobs';
import { validateScheduleInput } from './validate-schedule';
import type { ScheduleSpec } from './schedule-spec';

function spec(input: Record<string, unknown>): ScheduleSpec {
  const result = validateScheduleInput({ cron: '* * * * * *', handler: 'log', ...input }, { handlers: new Set(['log', 'http']) });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
}

/**
 * joined: what writeTicks-10.lua stores for each tick of `args` (the
 * arguments after the keys), by the joins its header documents: the job id,
 * data JSON and options JSON. The integration test checks the script itself
 * against BullMQ's add; this one checks every kind of schedule cheaply.
 */
function joined(args: string[]): { id: string; data: string; opts: string; flags: number }[] {
  const [nowMs, token, shapes, instants] = [args[3], args[6], Number(args[7]), Number(args[8])];
  const shapesAt = 9;
  const instantsAt = shapesAt + 3 * shapes;
  const ticksAt = instantsAt + 2 * instants;
  const iso = new Map<string, string>();
  for (let k = instantsAt; k < ticksAt; k += 2) iso.set(args[k], args[k + 1]);
  const out = [];
  for (let i = ticksAt; i < args.length; i += 5) {
    const [name, due, shape, flags] = [args[i], args[i + 1], shapesAt + 3 * (Number(args[i + 2]) - 1), Number(args[i + 3])];
    const id = `${name}@${due}`;
    const timing = Number(due) > Number(nowMs) ? `,"timestamp":${nowMs},"delay":${Number(due) - Number(nowMs)}` : '';
    out.push({
      id, flags,
      data: `{"schedule":"${name}${args[shape]}${iso.get(due)}","fencingToken":${token},"payload":${args[i + 4]}${args[shape + 1]}`,
      opts: `{"jobId":"${id}"${timing}${args[shape + 2]}`,
    });
  }
  return out;
}

describe('writeTicksArgs', () => {
  const T = Date.parse('2026-11-27T10:00:00Z');
  const keys = batonKeys('p');
  const fence = { leaseValue: '7:n', rev: 3, fencingToken: 42 };
  const specs = [
    spec({ name: 'plain' }),
    spec({ name: 'tricky', data: { text: '"scheduledFor":"1970-01-01T00:00:00.000Z","fencingToken":0,', nl: 'a\nb', u: 'é✓' },
      attempts: 5, backoff: { type: 'exponential', delayMs: 250 }, timeoutMs: 1234, overlap: 'skip' }),
    spec({ name: 'nested', data: { list: [1, { deep: true }], empty: {} } }),
    spec({ name: 'web.hook_1', handler: 'http', data: { url: 'http://127.0.0.1:1/x?a=1&b="2"' } }),
    // each differs from the one before in one field that shapes the job: none may take another's shape
    spec({ name: 'retry-a', attempts: 3, backoff: { type: 'fixed', delayMs: 100 } }),
    spec({ name: 'retry-b', attempts: 3, backoff: { type: 'fixed', delayMs: 200 } }),
    spec({ name: 'retry-c', attempts: 3, backoff: { type: 'exponential', delayMs: 200 } }),
    spec({ name: 'retry-d', attempts: 4, backoff: { type: 'exponential', delayMs: 200 } }),
    spec({ name: 'retry-e', attempts: 4, backoff: { type: 'exponential', delayMs: 200 }, timeoutMs: 500 }),
    spec({ name: 'retry-f', attempts: 4, backoff: { type: 'exponential', delayMs: 200 }, timeoutMs: 500, handler: 'http', data: { url: 'http://127.0.0.1:1/' } }),
  ];

  it.each(specs.map((s) => [s.name, s]))('joins %s into exactly JSON.stringify of its job data and options, due and ahead', (_name, s) => {
    for (const [atMs, nowMs] of [[T, T + 5], [T, T], [T + 3500, T]]) {
      const ticks = [{ spec: s, fireAtMs: atMs }, { spec: s, fireAtMs: atMs + 1000 }];
      const { args, jobIds } = writeTicksArgs(keys, nowMs, fence, ticks);
      expect(jobIds).toEqual(ticks.map((t) => tickJobId(s.name, t.fireAtMs)));
      expect(joined(args)).toEqual(ticks.map(({ fireAtMs }) => {
        const jobId = tickJobId(s.name, fireAtMs);
        const data: BatonJobData = { schedule: s.name, handler: s.handler, scheduledFor: new Date(fireAtMs).toISOString(), fencingToken: 42,
          payload: s.data ?? null, timeoutMs: s.timeoutMs, trigger: 'cron' };
        return { id: jobId, data: JSON.stringify(data), opts: JSON.stringify(jobOptions(s, jobId, fireAtMs, nowMs)),
          flags: (runsTrimDue(jobId) ? 1 : 0) + (s.overlap === 'skip' ? 2 : 0) };
      }));
    }
  });

  it('heads the arguments with the key prefixes, RUNS_KEPT, the timestamp, the fence and the counts; sends each shape and instant once', () => {
    const a = spec({ name: 'a' });
    const b = spec({ name: 'b', data: { n: 1 } }); // same handler, timeout and retries as a: one shape
    const c = spec({ name: 'c', attempts: 2 });
    const ticks = [a, b, c].flatMap((s) => [T, T + 1000].map((fireAtMs) => ({ spec: s, fireAtMs })));
    const { args } = writeTicksArgs(keys, T, fence, ticks);
    expect(args.slice(0, 9)).toEqual(['{p}:jobs:', '{p}:runs:', String(RUNS_KEPT), String(T), '7:n', '3', '42', '2', '2']);
    const instantsAt = 9 + 3 * 2;
    expect(args.slice(instantsAt, instantsAt + 4)).toEqual([String(T), new Date(T).toISOString(), String(T + 1000), new Date(T + 1000).toISOString()]);
    const perTick = args.slice(instantsAt + 4);
    expect(perTick).toHaveLength(5 * ticks.length);
    expect(perTick.filter((_, i) => i % 5 === 2)).toEqual(['1', '1', '1', '1', '2', '2']);
    expect(perTick.filter((_, i) => i % 5 === 4)).toEqual(['null', 'null', '{"n":1}', '{"n":1}', 'null', 'null']);
  });

  it('refuses a schedule name that JSON would escape (validation never lets one through)', () => {
    const odd = { ...spec({ name: 'fine' }), name: 'quo"te' };
    expect(() => writeTicksArgs(keys, T, fence, [{ spec: odd, fireAtMs: T }])).toThrow(/needs JSON escapes/);
  });
});
