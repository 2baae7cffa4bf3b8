import type { JobContext, JobHandlerFn } from './handler-registry';
import { JobTimeoutError, WorkerShutdownError } from './worker.errors';

/**
 * runAttempt runs `handler` once with a signal that aborts at `timeoutMs`
 * (reason JobTimeoutError; 0 or less means no limit) or when `stopSignal`
 * aborts (reason WorkerShutdownError). The attempt rejects on time even when
 * the handler ignores its signal; the handler's late result is then dropped.
 *
 * It is on every job's path, so it allocates little: one promise, one timer,
 * one listener, and the AbortController only when the handler reads
 * `ctx.signal` (most quick handlers never do).
 */
export function runAttempt(
  handler: JobHandlerFn,
  ctx: Omit<JobContext, 'signal'>,
  stopSignal: AbortSignal,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let controller: AbortController | undefined;
    let failure: Error | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fail = (reason: Error) => {
      if (failure) return;
      failure = reason;
      controller?.abort(reason);
      finish();
      reject(reason);
    };
    const onStop = () => fail(new WorkerShutdownError());
    const finish = () => {
      if (timer !== undefined) clearTimeout(timer);
      stopSignal.removeEventListener('abort', onStop);
    };
    const signalOf = () => {
      if (!controller) {
        controller = new AbortController();
        if (failure) controller.abort(failure);
      }
      return controller.signal;
    };
    if (stopSignal.aborted) return fail(new WorkerShutdownError());
    stopSignal.addEventListener('abort', onStop, { once: true });
    if (ctx.timeoutMs > 0) timer = setTimeout(() => fail(new JobTimeoutError(ctx.timeoutMs)), ctx.timeoutMs);
    let result: unknown;
    try {
      result = handler({ ...ctx, get signal() { return signalOf(); } });
    } catch (err) {
      if (!failure) { finish(); reject(err); }
      return;
    }
    Promise.resolve(result).then(
      (value) => { if (!failure) { finish(); resolve(value); } },
      (err: unknown) => { if (!failure) { finish(); reject(err); } },
    );
  });
}
