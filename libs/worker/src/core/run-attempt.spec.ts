import { getEventListeners } from 'node:events';
import type { JobContext } from './handler-registry';
import { runAttempt, StopGroup } from './run-attempt';
import { JobTimeoutError, WorkerShutdownError } from './worker.errors';

const ctx = (timeoutMs: number): Omit<JobContext, 'signal'> => ({
  jobId: 'nightly@1', schedule: 'nightly', scheduledFor: '2026-01-01T00:00:00.000Z', attempt: 1,
  fencingToken: 7, payload: { a: 1 }, trigger: 'cron', timeoutMs,
});

describe('runAttempt', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('resolves with the handler result and passes the job context', async () => {
    const seen: JobContext[] = [];
    const result = await runAttempt((c) => { seen.push(c); return 'done'; }, ctx(1000), new AbortController().signal);
    expect(result).toBe('done');
    expect(seen[0]).toMatchObject({ jobId: 'nightly@1', attempt: 1, fencingToken: 7, payload: { a: 1 } });
    expect(seen[0].signal.aborted).toBe(false);
  });

  it('rejects with the error of a handler that throws synchronously', async () => {
    await expect(runAttempt(() => { throw new Error('boom'); }, ctx(1000), new AbortController().signal)).rejects.toThrow('boom');
  });

  it('fails the attempt at timeoutMs even when the handler ignores the signal', async () => {
    let signal: AbortSignal | undefined;
    const never = (c: JobContext) => { signal = c.signal; return new Promise(() => undefined); };
    const attempt = runAttempt(never, ctx(250), new AbortController().signal);
    const outcome = expect(attempt).rejects.toThrow(new JobTimeoutError(250));
    await jest.advanceTimersByTimeAsync(249);
    expect(signal?.aborted).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await outcome;
    expect(signal?.reason).toBeInstanceOf(JobTimeoutError);
    expect((signal?.reason as Error).message).toBe('timed out after 250 ms');
  });

  it('has no time limit when timeoutMs is 0', async () => {
    let finish: (v: string) => void = () => undefined;
    const attempt = runAttempt(() => new Promise<string>((r) => { finish = r; }), ctx(0), new AbortController().signal);
    await jest.advanceTimersByTimeAsync(3_600_000);
    finish('late but fine');
    await expect(attempt).resolves.toBe('late but fine');
  });

  it('aborts the handler signal with WorkerShutdownError when the stop signal aborts', async () => {
    const stop = new AbortController();
    let signal: AbortSignal | undefined;
    const attempt = runAttempt((c) => { signal = c.signal; return new Promise(() => undefined); }, ctx(10_000), stop.signal);
    stop.abort();
    await expect(attempt).rejects.toBeInstanceOf(WorkerShutdownError);
    expect(signal?.reason).toBeInstanceOf(WorkerShutdownError);
  });

  it('gives a handler that first reads its signal after the timeout an already aborted one', async () => {
    let late: (() => AbortSignal) | undefined;
    const attempt = runAttempt((c) => { late = () => c.signal; return new Promise(() => undefined); }, ctx(100), new AbortController().signal);
    const outcome = expect(attempt).rejects.toBeInstanceOf(JobTimeoutError);
    await jest.advanceTimersByTimeAsync(100);
    await outcome;
    expect(late!().aborted).toBe(true);
    expect(late!().reason).toBeInstanceOf(JobTimeoutError);
  });

  it('leaves no timer and no stop listener behind once the handler settles', async () => {
    const stop = new AbortController();
    await runAttempt(async () => 'ok', ctx(60_000), stop.signal);
    await expect(runAttempt(async () => { throw new Error('no'); }, ctx(60_000), stop.signal)).rejects.toThrow('no');
    expect(jest.getTimerCount()).toBe(0);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });

  it('finishes a handler that returns synchronously at once: no timer, no stop callback', async () => {
    const group = new StopGroup();
    const attempt = runAttempt(() => 'sync', ctx(60_000), group);
    expect(jest.getTimerCount()).toBe(0);
    expect((group as unknown as { fns: Set<unknown> }).fns.size).toBe(0);
    await expect(attempt).resolves.toBe('sync');
  });

  it('takes a StopGroup as the stop source: stop() fails a running attempt, and a settled one left no callback', async () => {
    const group = new StopGroup();
    await runAttempt(async () => 'quick', ctx(60_000), group);
    let signal: AbortSignal | undefined;
    const hanging = runAttempt((c) => { signal = c.signal; return new Promise(() => undefined); }, ctx(60_000), group);
    expect((group as unknown as { fns: Set<unknown> }).fns.size).toBe(1); // only the running attempt's
    group.stop();
    await expect(hanging).rejects.toBeInstanceOf(WorkerShutdownError);
    expect(signal?.reason).toBeInstanceOf(WorkerShutdownError);
    await expect(runAttempt(() => 'late', ctx(0), group)).rejects.toBeInstanceOf(WorkerShutdownError);
  });
});
