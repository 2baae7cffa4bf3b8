import type { Redis } from 'ioredis';
import { JobPump, type PumpedJob } from './job-pump';

/**
 * A stand-in for the two connections: finishAndTake hands out jobs from a
 * list and records what each call completed and asked for. The script's own
 * behaviour is proven against a real Redis (test/integration/worker-pump.int-spec.ts);
 * this checks the pump's loop: batching, limits, stop.
 */
function fakeRedis(waiting: string[], nextDelayedMs = 0) {
  const calls: Array<{ completed: string[]; take: number }> = [];
  const redis = {
    finishAndTake: async (...args: (string | number)[]) => {
      const take = Number(args[10]);
      const completed: string[] = [];
      for (let i = 16; i < args.length; i += 3) completed.push(String(args[i]));
      calls.push({ completed, take });
      const taken = waiting.splice(0, take).flatMap((id) => [id, '{}', '0']);
      return [completed.map(() => 0), taken, nextDelayedMs];
    },
    extendJobLocks: async () => [],
  };
  let release: (() => void) | undefined;
  const disconnects: Array<boolean | undefined> = [];
  const blocking = {
    bzpopmin: () => new Promise((resolve) => { release = () => resolve(null); }),
    disconnect: (reconnect?: boolean) => { disconnects.push(reconnect); if (!reconnect) release?.(); },
  };
  return { redis: redis as unknown as Redis, blocking: blocking as unknown as Redis, calls, disconnects };
}

const keys = { wait: 'w', active: 'a', delayed: 'd', meta: 'm', marker: 'k', events: 'e', stalled: 's', completed: 'c', jobsPrefix: 'j:' };

function pump(fake: ReturnType<typeof fakeRedis>, run: (job: PumpedJob) => Promise<void>, limit = 10) {
  const handedBack: string[] = [];
  const failed: string[] = [];
  const p = new JobPump({
    redis: fake.redis, blocking: fake.blocking, keys, worker: 'n1', lockMs: 10_000, drainDelaySec: 30,
    keepAgeSec: 60, keepCount: 100, limit, run,
    fail: async (job) => { failed.push(job.id); },
    handBack: async (job) => { handedBack.push(job.id); },
    warn: () => undefined,
  });
  return { p, handedBack, failed };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('JobPump', () => {
  it('completes the attempts that succeeded together in the call that takes the next jobs', async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `j${i}`);
    const fake = fakeRedis([...ids]);
    const ran: string[] = [];
    const { p, failed } = pump(fake, async (job) => { ran.push(job.id); });
    p.start();
    for (let i = 0; i < 20 && fake.calls.flatMap((c) => c.completed).length < 25; i++) await tick();
    await p.close();
    expect(ran).toEqual(ids);
    expect(failed).toEqual([]);
    expect(fake.calls.flatMap((c) => c.completed)).toEqual(ids); // each exactly once
    // 25 jobs with room for 10: three takes, and the completions ride along (not one call per job)
    expect(fake.calls.length).toBeLessThanOrEqual(5);
    expect(fake.calls.every((c) => c.take <= 10)).toBe(true);
    expect(fake.calls.some((c) => c.completed.length === 10 && c.take === 10)).toBe(true);
  });

  it('never runs more than its limit at once, takes none at limit 0, and resumes when the limit rises', async () => {
    const fake = fakeRedis(Array.from({ length: 6 }, (_, i) => `j${i}`));
    let running = 0;
    let most = 0;
    const gates: Array<() => void> = [];
    const { p } = pump(fake, () => new Promise<void>((resolve) => {
      most = Math.max(most, ++running);
      gates.push(() => { running--; resolve(); });
    }), 2);
    p.start();
    await tick();
    expect(p.runningCount()).toBe(2);
    p.setLimit(0);
    gates.splice(0).forEach((open) => open());
    for (let i = 0; i < 5; i++) await tick();
    expect(p.runningCount()).toBe(0); // the two finished; none taken at limit 0
    expect(fake.calls.at(-1)?.take).toBe(0);
    p.setLimit(3);
    for (let i = 0; i < 5; i++) await tick();
    expect(p.runningCount()).toBe(3);
    expect(most).toBe(3);
    gates.splice(0).forEach((open) => open());
    await p.close();
  });

  it('stop() lets running attempts finish and be completed, and takes nothing more', async () => {
    const fake = fakeRedis(['a']);
    let open = () => undefined as void;
    const { p, handedBack, failed } = pump(fake, (job) => job.id === 'a' ? new Promise<void>((r) => { open = r; }) : Promise.reject(new Error('ran')));
    p.start();
    await tick();
    expect(p.runningCount()).toBe(1);
    let stopped = false;
    const stopping = p.stop().then(() => { stopped = true; });
    await tick();
    expect(stopped).toBe(false);
    open();
    await stopping;
    expect(fake.calls.flatMap((c) => c.completed)).toEqual(['a']);
    expect(fake.calls.at(-1)?.take).toBe(0);
    expect(handedBack).toEqual([]);
    expect(failed).toEqual([]);
    await p.close();
  });

  it('hands back, unrun, the jobs of a take that was in flight when stop() began', async () => {
    const fake = fakeRedis(['x', 'y']);
    const commands = fake.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>;
    const take = commands.finishAndTake;
    let reply = () => undefined as void;
    commands.finishAndTake = (...args: (string | number)[]) =>
      new Promise((resolve) => { reply = () => resolve(take(...args)); });
    const ran: string[] = [];
    const { p, handedBack } = pump(fake, async (job) => { ran.push(job.id); });
    p.start();
    await tick();
    const stopping = p.stop();
    reply();
    await stopping;
    expect(ran).toEqual([]);
    expect(handedBack).toEqual(['x', 'y']);
    await p.close();
  });

  it('waits for a delayed job weeks away without spinning (a timer cannot wait that long)', async () => {
    const fake = fakeRedis([], Date.now() + 40 * 86_400_000);
    const { p } = pump(fake, async () => undefined);
    p.start();
    await new Promise((r) => setTimeout(r, 100));
    await p.close();
    expect(fake.calls.length).toBe(1); // the first look; then it blocks on the marker (and would look again after drainDelaySec)
  });

  it('drops and remakes the blocking connection when a wait outlives its timeout by 5 s (its reply was lost)', async () => {
    jest.useFakeTimers();
    try {
      const fake = fakeRedis([]);
      const { p } = pump(fake, async () => undefined);
      p.start();
      await jest.advanceTimersByTimeAsync(34_000); // drainDelaySec 30 + 4: the wait may still answer
      expect(fake.disconnects).toEqual([]);
      await jest.advanceTimersByTimeAsync(1_500);
      expect(fake.disconnects).toEqual([true]);
      await p.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('a failed attempt goes to fail(), not to the completions', async () => {
    const fake = fakeRedis(['ok', 'bad']);
    const { p, failed } = pump(fake, async (job) => { if (job.id === 'bad') throw new Error('boom'); });
    p.start();
    for (let i = 0; i < 10 && fake.calls.flatMap((c) => c.completed).length < 1; i++) await tick();
    await p.close();
    expect(failed).toEqual(['bad']);
    expect(fake.calls.flatMap((c) => c.completed)).toEqual(['ok']);
  });
});
