import { ElectionConfigError } from './election.errors';
import { messages } from './election.messages';

/** DEFAULT_LEASE_MS: lease length when the deployment sets none (10 s: failover after a crash within ~12.5 s). */
export const DEFAULT_LEASE_MS = 10_000;
/** DEFAULT_RENEW_DEADLINE_RATIO: renewDeadline = 0.6 · lease, leaving 40 % for clock-rate drift and the network. */
export const DEFAULT_RENEW_DEADLINE_RATIO = 0.6;
/** DEFAULT_RETRY_PERIOD_RATIO: retryPeriod = lease / 4, so a leader gets two renew attempts before its deadline. */
export const DEFAULT_RETRY_PERIOD_RATIO = 0.25;

/** ElectionTimings: the three durations of an election, all in ms. */
export interface ElectionTimings {
  /** leaseDurationMs: how long the lease lives in Redis after each renew. */
  leaseDurationMs: number;
  /** renewDeadlineMs: a leader steps down when no renew succeeded for this long (its monotonic clock). */
  renewDeadlineMs: number;
  /** retryPeriodMs: how often the leader renews; followers' back-off cap while Redis is down. */
  retryPeriodMs: number;
}

/**
 * deriveElectionTimings fills in renewDeadlineMs (default round(0.6 · leaseMs))
 * and retryPeriodMs (default round(leaseMs / 4)) and validates the result.
 * Throws ElectionConfigError naming the bad field.
 */
export function deriveElectionTimings(input: { leaseMs: number; renewDeadlineMs?: number; retryPeriodMs?: number }): ElectionTimings {
  const leaseDurationMs = input.leaseMs;
  requirePositive('leaseMs', leaseDurationMs);
  const timings = {
    leaseDurationMs,
    renewDeadlineMs: input.renewDeadlineMs ?? Math.round(leaseDurationMs * DEFAULT_RENEW_DEADLINE_RATIO),
    retryPeriodMs: input.retryPeriodMs ?? Math.round(leaseDurationMs * DEFAULT_RETRY_PERIOD_RATIO),
  };
  validateElectionTimings(timings, 'leaseMs');
  return timings;
}

/**
 * validateElectionTimings checks leaseDurationMs > renewDeadlineMs >
 * retryPeriodMs > 0 and throws ElectionConfigError naming the first bad field.
 */
export function validateElectionTimings(t: ElectionTimings, leaseField = 'leaseDurationMs'): void {
  requirePositive(leaseField, t.leaseDurationMs);
  requirePositive('renewDeadlineMs', t.renewDeadlineMs);
  requirePositive('retryPeriodMs', t.retryPeriodMs);
  if (t.renewDeadlineMs >= t.leaseDurationMs) {
    throw new ElectionConfigError('renewDeadlineMs', messages.notBelow('renewDeadlineMs', t.renewDeadlineMs, leaseField,
      t.leaseDurationMs, 'the leader must step down before its lease can expire'));
  }
  if (t.retryPeriodMs >= t.renewDeadlineMs) {
    throw new ElectionConfigError('retryPeriodMs', messages.notBelow('retryPeriodMs', t.retryPeriodMs, 'renewDeadlineMs',
      t.renewDeadlineMs, 'the leader must get at least one renew attempt before its deadline'));
  }
}

function requirePositive(field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ElectionConfigError(field, messages.notPositive(field, value));
  }
}
