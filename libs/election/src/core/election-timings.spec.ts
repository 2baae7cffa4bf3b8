import { ElectionConfigError } from './election.errors';
import { messages } from './election.messages';
import {
  DEFAULT_LEASE_MS,
  DEFAULT_RENEW_DEADLINE_RATIO,
  DEFAULT_RETRY_PERIOD_RATIO,
  deriveElectionTimings,
} from './election-timings';

describe('deriveElectionTimings', () => {
  it('derives renewDeadline = 0.6 · lease and retryPeriod = lease / 4 by default', () => {
    expect(DEFAULT_RENEW_DEADLINE_RATIO).toBe(0.6);
    expect(DEFAULT_RETRY_PERIOD_RATIO).toBe(0.25);
    expect(deriveElectionTimings({ leaseMs: DEFAULT_LEASE_MS })).toEqual({ leaseDurationMs: 10_000, renewDeadlineMs: 6000, retryPeriodMs: 2500 });
    expect(deriveElectionTimings({ leaseMs: 333 })).toEqual({ leaseDurationMs: 333, renewDeadlineMs: 200, retryPeriodMs: 83 });
  });

  it('keeps explicit values', () => {
    expect(deriveElectionTimings({ leaseMs: 1000, renewDeadlineMs: 800, retryPeriodMs: 100 }))
      .toEqual({ leaseDurationMs: 1000, renewDeadlineMs: 800, retryPeriodMs: 100 });
  });

  it.each([
    [{ leaseMs: 0 }, 'leaseMs'],
    [{ leaseMs: Number.POSITIVE_INFINITY }, 'leaseMs'],
    [{ leaseMs: 1000, renewDeadlineMs: 1000 }, 'renewDeadlineMs'],
    [{ leaseMs: 1000, retryPeriodMs: 700 }, 'retryPeriodMs'],
    [{ leaseMs: 1000, retryPeriodMs: 0 }, 'retryPeriodMs'],
  ])('rejects %p naming %s', (input, field) => {
    expect(() => deriveElectionTimings(input)).toThrow(ElectionConfigError);
    try {
      deriveElectionTimings(input);
    } catch (err) {
      expect((err as ElectionConfigError).field).toBe(field);
      expect((err as Error).message).toContain(field);
    }
  });
});

describe('election messages', () => {
  it('tell a person who leads, since when, and after how long without a leader', () => {
    expect(messages.elected('node-2', 7, 'node-1', 6, 1200)).toBe('node-2 is now the leader (term 7) after node-1 (term 6), 1.2 s without a leader');
    expect(messages.elected('node-1', 1, null, 0, 0)).toBe('node-1 is now the leader (term 1); no earlier leader on record');
    expect(messages.lost('node-1', 3, 'renew-deadline', 6000)).toBe('node-1 stopped leading (term 3): could not renew the lease within 6.0 s');
  });
});
