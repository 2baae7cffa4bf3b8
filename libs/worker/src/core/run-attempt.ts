import type { JobContext, JobHandlerFn } from './handler-registry';
import { JobTimeoutError, WorkerShutdownError } from './worker.errors';

/**
 * runAttempt runs `handler` once with a signal that aborts at `timeoutMs`
 * (reason JobTimeoutError; 0 or less means no limit) or when `stopSignal`
 * aborts (reason WorkerShutdownError). It races the handler against that
 * signal, so the attempt rejects on time even when the handler ignores it;
 * the handler's late result is then dropped.
 */
export async function runAttempt(
  handler: JobHandlerFn,
  ctx: Omit<JobContext, 'signal'>,
  stopSignal: AbortSignal,
): Promise<unknown> {
  const controller = new AbortController();
  const { signal } = controller;
  const onStop = () => controller.abort(new WorkerShutdownError());
  if (stopSignal.aborted) onStop();
  else stopSignal.addEventListener('abort', onStop, { once: true });
  const timer = ctx.timeoutMs > 0
    ? setTimeout(() => controller.abort(new JobTimeoutError(ctx.timeoutMs)), ctx.timeoutMs)
    : undefined;
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const work = Promise.resolve().then(() => handler({ ...ctx, signal }));
    return await Promise.race([work, aborted]);
  } finally {
    clearTimeout(timer);
    stopSignal.removeEventListener('abort', onStop);
    signal.removeEventListener('abort', onAbort);
  }
}
