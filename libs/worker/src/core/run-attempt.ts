import type { JobContext, JobHandlerFn } from './handler-registry';
import { JobTimeoutError, WorkerShutdownError } from './worker.errors';

/**
 * StopSource: what runAttempt needs of a worker's shutdown: whether it
 * happened, and a way to be told (returns the unsubscribe). An AbortSignal
 * works too; a plain set of callbacks (StopGroup) is cheaper per attempt.
 */
export interface StopSource {
  readonly stopped: boolean;
  onStop(fn: () => void): () => void;
}

/** StopGroup: a StopSource whose stop() calls every registered callback once. */
export class StopGroup implements StopSource {
  private readonly fns = new Set<() => void>();
  private done = false;

  get stopped(): boolean {
    return this.done;
  }

  onStop(fn: () => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }

  stop(): void {
    if (this.done) return;
    this.done = true;
    for (const fn of [...this.fns]) fn();
    this.fns.clear();
  }
}

function fromSignal(signal: AbortSignal): StopSource {
  return {
    get stopped() { return signal.aborted; },
    onStop(fn) {
      signal.addEventListener('abort', fn, { once: true });
      return () => signal.removeEventListener('abort', fn);
    },
  };
}

/**
 * runAttempt runs `handler` once with a signal that aborts at `timeoutMs`
 * (reason JobTimeoutError; 0 or less means no limit) or when `stop` fires
 * (reason WorkerShutdownError; an AbortSignal or a StopSource). The attempt rejects on time even when
 * the handler ignores its signal; the handler's late result is then dropped.
 *
 * It is on every job's path, so it allocates little: one promise, one timer,
 * one stop callback, and the AbortController only when the handler reads
 * `ctx.signal` (most quick handlers never do).
 */
export function runAttempt(
  handler: JobHandlerFn,
  ctx: Omit<JobContext, 'signal'>,
  stopSignal: AbortSignal | StopSource,
): Promise<unknown> {
  const stop = 'onStop' in stopSignal ? stopSignal : fromSignal(stopSignal);
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
    let unsubscribe: (() => void) | undefined;
    const finish = () => {
      if (timer !== undefined) clearTimeout(timer);
      unsubscribe?.();
    };
    const signalOf = () => {
      if (!controller) {
        controller = new AbortController();
        if (failure) controller.abort(failure);
      }
      return controller.signal;
    };
    if (stop.stopped) return fail(new WorkerShutdownError());
    unsubscribe = stop.onStop(() => fail(new WorkerShutdownError()));
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
