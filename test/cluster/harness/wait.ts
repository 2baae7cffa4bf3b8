/** POLL_MS: how often waitUntil() re-checks its condition. */
export const POLL_MS = 25;

/** sleep resolves after `ms`; only for poll loops, never as a fixed wait in a test. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** WaitOptions: how waitUntil() polls. */
export interface WaitOptions {
  /** deadlineMs: give up after this many ms (from the call). */
  deadlineMs: number;
  /** what: named in the timeout error, e.g. "leader.elected from n2". */
  what: string;
  /** abortIf: checked every round; a non-empty string aborts the wait with that reason. */
  abortIf?: () => string | undefined;
  /** explain: appended to the timeout error (e.g. what was seen instead). */
  explain?: () => string;
}

/**
 * waitUntil polls `probe` every POLL_MS until it returns something other than
 * `undefined`/`false`, and returns that. Throws after `deadlineMs`, or at once
 * when `abortIf` names a reason (a cluster shut down, a node died).
 */
export async function waitUntil<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions,
): Promise<T> {
  const until = Date.now() + options.deadlineMs;
  for (;;) {
    const aborted = options.abortIf?.();
    if (aborted) throw new Error(`gave up waiting for ${options.what}: ${aborted}`);
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) {
      const extra = options.explain ? `\n${options.explain()}` : '';
      throw new Error(`timed out after ${options.deadlineMs} ms waiting for ${options.what}${extra}`);
    }
    await sleep(POLL_MS);
  }
}

/**
 * observeFor runs `check` every POLL_MS for `durationMs` (an observation
 * window, e.g. "no second leader appears for two leases") and rethrows the
 * first failure.
 */
export async function observeFor(durationMs: number, check: () => void | Promise<void>): Promise<void> {
  const until = Date.now() + durationMs;
  do {
    await check();
    await sleep(POLL_MS);
  } while (Date.now() < until);
}

/** untilTime waits until the wall clock reaches `epochMs` (for "keep it paused for 2 leases"). */
export async function untilTime(epochMs: number): Promise<void> {
  while (Date.now() < epochMs) await sleep(Math.min(POLL_MS, epochMs - Date.now()));
}
