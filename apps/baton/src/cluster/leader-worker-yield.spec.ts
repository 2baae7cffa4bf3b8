import type { LagReport } from '@lib/scheduling';
import { LeaderWorkerYield } from './leader-worker-yield';

/** A term driven by hand: reports go to the listener the yield registered; time is a counter. */
function setup(peers: number | (() => Promise<number>) = 2) {
  let nowMs = 1_000_000;
  const limits: number[] = [];
  const logs: { event: string; facts?: Record<string, unknown> }[] = [];
  let peerReads = 0;
  const yielder = new LeaderWorkerYield({
    worker: { limitConcurrency: (n) => limits.push(n) },
    maxConcurrency: 8, lateMs: 100, quietMs: 5000, peersMaxAgeMs: 5000,
    peers: typeof peers === 'function' ? peers : async () => { peerReads++; return peers; },
    clock: { nowMs: () => nowMs, monotonicMs: () => nowMs },
    logger: { log: (_level, event, _msg, facts) => void logs.push({ event, facts }) },
  });
  const term = new AbortController();
  let listener: ((r: LagReport) => void) | undefined;
  let unsubscribed = false;
  yielder.follow(term.signal, (l) => { listener = l; return () => { unsubscribed = true; }; });
  const report = async (lagMs: number, atMs?: number, ahead = false) => {
    nowMs += 1000;
    listener!({ atMs: atMs ?? nowMs - lagMs, readyAtMs: nowMs, lagMs, count: 10, ahead });
    await new Promise((resolve) => setImmediate(resolve)); // the peers read settles
  };
  return {
    yielder, limits, logs, term, report, peerReads: () => peerReads, unsubscribed: () => unsubscribed,
    advance: (ms: number) => { nowMs += ms; jest.advanceTimersByTime(ms); },
  };
}

describe('LeaderWorkerYield', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate'] }));
  afterEach(() => jest.useRealTimers());

  it('halves the leader worker\'s concurrency per late instant while other nodes are live, and doubles it per quiet 5 s', async () => {
    const t = setup(2);
    await t.report(20);
    expect(t.limits).toEqual([]); // on time: nothing to change, and no Redis read
    expect(t.peerReads()).toBe(0);
    await t.report(150);
    await t.report(160, 1_001_850); // the same instant's next batch: it counts once
    expect(t.limits).toEqual([4]);
    await t.report(200, 1_001_850, true); // the same instant written ahead: another kind, it counts
    for (const lag of [190, 180]) await t.report(lag);
    expect(t.limits).toEqual([4, 2, 1, 0]);
    expect(t.peerReads()).toBe(1); // one read per heartbeat, not per report
    await t.report(10);
    expect(t.limits).toEqual([4, 2, 1, 0]); // on time because it yielded: no job back for that
    t.advance(4000); // 5 s since the last late instant (each report moves the clock 1 s)
    expect(t.limits.slice(4)).toEqual([1]);
    for (let i = 0; i < 3; i++) t.advance(5000);
    expect(t.limits.slice(4)).toEqual([1, 2, 4, 8]);
    expect(t.logs.map((l) => l.event)).toEqual(['worker.throttled', 'worker.restored']);
    expect(t.logs[0].facts).toMatchObject({ limit: 4, maxConcurrency: 8, lagMs: 150, ahead: false, peers: 2 });
    expect(t.logs[1].facts).toEqual({ limit: 8 });
  });

  it('gives the whole concurrency back when the term ends, and stops listening', async () => {
    const t = setup(1);
    await t.report(150);
    expect(t.limits).toEqual([4]);
    t.advance(5000);
    expect(t.limits).toEqual([4, 8]);
    await t.report(3000); // very late: straight to none
    expect(t.limits).toEqual([4, 8, 0]);
    t.term.abort();
    expect(t.limits).toEqual([4, 8, 0, 8]);
    expect(t.unsubscribed()).toBe(true);
    t.advance(10_000);
    expect(t.limits).toHaveLength(4); // its timer is gone
    expect(t.logs.map((l) => l.event)).toEqual(['worker.throttled', 'worker.restored', 'worker.throttled', 'worker.restored']);
  });

  it('leaves a yielding worker as it is when the term ends because the node stops', async () => {
    const t = setup(2);
    await t.report(150);
    expect(t.limits).toEqual([4]);
    t.yielder.stop();
    t.term.abort();
    expect(t.limits).toEqual([4]); // the worker closes next: no jobs taken only to run them within the shutdown grace
    expect(t.unsubscribed()).toBe(true);
  });

  it('never yields when no other node is live, or when the live nodes cannot be read', async () => {
    for (const peers of [0, () => Promise.reject(new Error('Redis down'))]) {
      const t = setup(peers);
      for (let i = 0; i < 5; i++) await t.report(1000);
      expect(t.limits).toEqual([]);
      expect(t.logs).toEqual([]);
      t.term.abort();
    }
  });

  it('rejects a threshold that is not positive', () => {
    expect(() => new LeaderWorkerYield({ lateMs: 0 } as never)).toThrow('option lateMs must be > 0, got 0');
  });
});
