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
 * AttemptContext: the JobContext of one attempt. Its `signal` is made on
 * first read (most quick handlers never read it) and aborts with the
 * attempt's failure; the rest are plain fields.
 */
class AttemptContext implements JobContext {
  readonly jobId: string;
  readonly schedule: string;
  readonly scheduledFor: string;
  readonly attempt: number;
  readonly fencingToken: number;
  readonly payload: unknown;
  readonly trigger: 'cron' | 'manual';
  readonly timeoutMs: number;
  #controller?: AbortController;
  #failure?: Error;

  constructor(ctx: Omit<JobContext, 'signal'>) {
    this.jobId = ctx.jobId;
    this.schedule = ctx.schedule;
    this.scheduledFor = ctx.scheduledFor;
    this.attempt = ctx.attempt;
    this.fencingToken = ctx.fencingToken;
    this.payload = ctx.payload;
    this.trigger = ctx.trigger;
    this.timeoutMs = ctx.timeoutMs;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#failure) this.#controller.abort(this.#failure);
    }
    return this.#controller.signal;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  fail(reason: Error): void {
    this.#failure = reason;
    this.#controller?.abort(reason);
  }
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';

/**
 * runAttempt runs `handler` once with a signal that aborts at `timeoutMs`
 * (reason JobTimeoutError; 0 or less means no limit) or when `stop` fires
 * (reason WorkerShutdownError; an AbortSignal or a StopSource). The attempt
 * rejects on time even when the handler ignores its signal; the handler's
 * late result is then dropped.
 *
 * It is on every job's path, so it allocates little: a handler that returns
 * synchronously (no promise) is done at once, with no timer and no stop
 * callback (nothing could interrupt it anyway); one that returns a promise
 * gets one timer (for what is left of timeoutMs) and one stop callback.
 */
export function runAttempt(
  handler: JobHandlerFn,
  ctx: Omit<JobContext, 'signal'>,
  stopSignal: AbortSignal | StopSource,
): Promise<unknown> {
  const stop = 'onStop' in stopSignal ? stopSignal : fromSignal(stopSignal);
  if (stop.stopped) return Promise.reject(new WorkerShutdownError());
  const attempt = new AttemptContext(ctx);
  const startedAt = ctx.timeoutMs > 0 ? performance.now() : 0;
  let result: unknown;
  try {
    result = handler(attempt);
  } catch (err) {
    return Promise.reject(err);
  }
  if (!isThenable(result)) return Promise.resolve(result);
  const pending = result;
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = () => {
      if (timer !== undefined) clearTimeout(timer);
      unsubscribe();
    };
    const fail = (reason: Error) => {
      if (attempt.failed) return;
      attempt.fail(reason);
      finish();
      reject(reason);
    };
    const unsubscribe = stop.onStop(() => fail(new WorkerShutdownError()));
    if (ctx.timeoutMs > 0) {
      const leftMs = Math.max(0, ctx.timeoutMs - (performance.now() - startedAt));
      timer = setTimeout(() => fail(new JobTimeoutError(ctx.timeoutMs)), leftMs);
    }
    pending.then(
      (value) => { if (!attempt.failed) { finish(); resolve(value); } },
      (err: unknown) => { if (!attempt.failed) { finish(); reject(err); } },
    );
  });
}
