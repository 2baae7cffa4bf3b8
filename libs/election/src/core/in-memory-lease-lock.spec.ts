import { InMemoryLeaseLock, InMemoryLeaseStore } from './in-memory-lease-lock';
import { LeaseStatus } from './lease-lock';

describe('InMemoryLeaseLock', () => {
  let now = 1_000_000;
  const clock = { nowMs: () => now, monotonicMs: () => now };
  let store: InMemoryLeaseStore;
  beforeEach(() => { store = new InMemoryLeaseStore(clock); });

  it('lets the first writer win and reports the holder and ttl to the next', async () => {
    const [a, b] = [new InMemoryLeaseLock(store, 'a'), new InMemoryLeaseLock(store, 'b')];
    expect(await a.tryAcquire(1000, 0)).toEqual({ acquired: true, token: 1, previousNodeId: null, previousTerm: 0, leaderlessMs: 0, previousSilentMs: 0 });
    now += 100;
    expect(await b.tryAcquire(1000, 0)).toEqual({ acquired: false, holder: { nodeId: 'a', token: 1 }, ttlMs: 900 });
  });

  it('renews and releases only with the holder token, and reports a missing lease', async () => {
    const a = new InMemoryLeaseLock(store, 'a');
    const woken = jest.fn();
    a.onFreed(woken);
    await a.tryAcquire(1000, 0);
    expect(await a.renew(2, 1000)).toBe(LeaseStatus.Lost);
    expect(await a.release(2)).toBe(LeaseStatus.Lost);
    expect(await a.renew(1, 1000)).toBe(LeaseStatus.Ok);
    expect(await a.release(1)).toBe(LeaseStatus.Ok);
    expect(woken).toHaveBeenCalledWith('released');
    expect(await a.renew(1, 1000)).toBe(LeaseStatus.Missing);
  });

  it('expires by the clock, measures the leaderless gap and never reuses a token below minToken', async () => {
    const [a, b] = [new InMemoryLeaseLock(store, 'a'), new InMemoryLeaseLock(store, 'b')];
    await a.tryAcquire(1000, 0);
    now += 1500;
    expect(await a.get()).toBeNull();
    expect(await b.tryAcquire(1000, 0)).toMatchObject({ token: 2, previousNodeId: 'a', leaderlessMs: 500 });
    store.wipe();
    now += 2000;
    expect(await a.tryAcquire(1000, 2)).toMatchObject({ acquired: true, token: 3 });
  });
});
