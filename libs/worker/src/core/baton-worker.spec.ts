import { silentLogger } from '@lib/common';
import { BatonWorker, type BatonWorkerOptions } from './baton-worker';
import { HandlerRegistry } from './handler-registry';

const base = (): BatonWorkerOptions => ({
  connection: 'redis://127.0.0.1:1', prefix: 'baton', nodeId: 'n1', registry: new HandlerRegistry(), logger: silentLogger,
});

describe('BatonWorker options', () => {
  it.each([
    [{ connection: undefined }, 'option "connection" is required'],
    [{ prefix: '' }, 'option "prefix" must be a non-empty string'],
    [{ nodeId: undefined }, 'option "nodeId" must be a non-empty string'],
    [{ registry: undefined }, 'option "registry" is required'],
    [{ logger: undefined }, 'option "logger" is required'],
    [{ concurrency: 0 }, 'option "concurrency" must be a positive integer, got 0'],
    [{ lockDurationMs: 1.5 }, 'option "lockDurationMs" must be a positive integer, got 1.5'],
    [{ stalledIntervalMs: -1 }, 'option "stalledIntervalMs" must be a positive integer'],
    [{ maxStalledCount: 0 }, 'option "maxStalledCount" must be a positive integer'],
    [{ stalledCheck: 'leader' }, `option "stalledCheck" must be 'own' or 'on-demand', got leader`],
  ])('rejects %j naming the field', (over, message) => {
    expect(() => new BatonWorker({ ...base(), ...over } as BatonWorkerOptions)).toThrow(message);
  });

  it('closes without ever connecting when it was never started', async () => {
    const worker = new BatonWorker(base());
    expect(worker.runningCount()).toBe(0);
    await expect(worker.close(1000)).resolves.toBeUndefined();
    await expect(worker.start()).rejects.toThrow('BatonWorker was closed');
  });
});
