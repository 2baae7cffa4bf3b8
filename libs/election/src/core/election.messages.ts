/** Human-readable texts of the election: error messages and log `msg`s. */

/** seconds formats a duration for people: `850 ms`, `1.2 s`. */
export function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export const messages = {
  notPositive: (field: string, value: unknown) =>
    `${field} must be a positive number of milliseconds, got ${String(value)}`,
  notBelow: (field: string, value: number, upper: string, upperValue: number, why: string) =>
    `${field} (${value} ms) must be less than ${upper} (${upperValue} ms): ${why}`,
  missing: (field: string, what: string) => `${field} is required: ${what}`,
  alreadyRunning: () => 'LeaderElector.run() is already running; abort the first run before starting another',

  /** elected: `silentMs` is how long the previous leader had not been heard from (last renew or release). */
  elected: (nodeId: string, term: number, previous: string | null, previousTerm: number, silentMs: number) => {
    if (!previous) return `${nodeId} is now the leader (term ${term}); no earlier leader on record`;
    if (previous === nodeId && silentMs === 0) return `${nodeId} is the leader again (term ${term})`;
    const after = previous === nodeId ? 'after its own term' : `after ${previous} (term ${previousTerm})`;
    return `${nodeId} is now the leader (term ${term}) ${after}, ${seconds(silentMs)} without a leader`;
  },
  lost: (nodeId: string, term: number, reason: string, renewDeadlineMs: number) => {
    const why: Record<string, string> = {
      'renew-deadline': `could not renew the lease within ${seconds(renewDeadlineMs)}`,
      'redis-error': `Redis kept failing for ${seconds(renewDeadlineMs)} of renew attempts`,
      'lease-taken': 'another node holds the lease',
      'lease-missing': 'the lease vanished from Redis (expired or data lost)',
    };
    return `${nodeId} stopped leading (term ${term}): ${why[reason] ?? reason}`;
  },
  resigned: (nodeId: string, term: number, released: boolean) =>
    `${nodeId} stepped down as leader (term ${term})` +
    (released ? ' and released the lease' : '; the lease was no longer ours or Redis was unreachable, it will expire'),
  changed: (observer: string, leader: string, term: number) => `${observer} sees ${leader} as the leader (term ${term})`,
  acquireFailed: (nodeId: string, error: string, retryMs: number) =>
    `${nodeId} could not reach Redis to compete for leadership (${error}); retrying in ${seconds(retryMs)}`,
  renewFailed: (nodeId: string, term: number, error: string, leftMs: number) =>
    `${nodeId} could not renew its lease (term ${term}): ${error}; ${seconds(leftMs)} left before it steps down`,
  callbackFailed: (name: string, error: string) => `election callback ${name} threw: ${error}`,
};
