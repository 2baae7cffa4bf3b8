import { SchedulingMessages } from './scheduling.messages';

/** ScheduleExistsError: create() found a schedule of that name (the API answers 409). */
export class ScheduleExistsError extends Error {
  override readonly name = 'ScheduleExistsError';
  constructor(readonly scheduleName: string) {
    super(SchedulingMessages.scheduleExists(scheduleName));
  }
}

/**
 * FencedOffError: the lease in Redis is not the one the enqueuer was given
 * (expired, or taken by another node). Nothing was written; the leader must
 * stop scheduling at once.
 */
export class FencedOffError extends Error {
  override readonly name = 'FencedOffError';
  constructor(readonly expectedLease: string, readonly foundLease: string | null) {
    super(SchedulingMessages.fencedOff(expectedLease, foundLease));
  }
}

/** ScheduleWriteConflictError: a compare-and-set write lost to concurrent writers too many times. */
export class ScheduleWriteConflictError extends Error {
  override readonly name = 'ScheduleWriteConflictError';
  constructor(readonly scheduleName: string) {
    super(SchedulingMessages.writeConflict(scheduleName));
  }
}
