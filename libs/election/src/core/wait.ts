/** ABORTED: what untilAborted resolves to when the signal won the race. */
export const ABORTED: unique symbol = Symbol('aborted');

/**
 * untilAborted resolves with `promise`'s value, or with ABORTED as soon as
 * `signal` aborts (the promise keeps running; the caller cleans up after it).
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise<T | typeof ABORTED>((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(err); },
    );
  });
}

/**
 * Waker is a sleep that a wake-up (a lease release seen on pub/sub) can cut
 * short. A wake() that arrives while nobody sleeps is remembered until
 * reset(), so a release that lands between an acquire attempt and the
 * following sleep is not lost.
 */
export class Waker {
  private pending: (() => void) | null = null;
  private woken = false;

  /** wake ends the current wakeable sleep, or the next one if none runs. */
  wake(): void {
    if (this.pending) this.pending();
    else this.woken = true;
  }

  /** reset forgets a remembered wake-up (call it right before looking at the lease). */
  reset(): void {
    this.woken = false;
  }

  /** sleep waits `ms`, until `signal` aborts, or (if `wakeable`) until wake(). */
  sleep(ms: number, signal: AbortSignal, wakeable = true): Promise<void> {
    if (signal.aborted || (wakeable && this.woken)) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        if (this.pending === done) this.pending = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
      if (wakeable) this.pending = done;
    });
  }
}

/** withTimeout rejects after `ms` if `promise` has not settled (the promise itself keeps running). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => { clearTimeout(timer); resolve(value); },
      (err: unknown) => { clearTimeout(timer); reject(err); },
    );
  });
}
