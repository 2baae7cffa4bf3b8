import { performance } from 'node:perf_hooks';

/**
 * Clock gives the core its two notions of time. `nowMs` is wall-clock epoch
 * ms (for schedules and logs); `monotonicMs` never jumps and keeps running
 * while the process is paused (SIGSTOP), so lease deadlines use it.
 */
export interface Clock {
  nowMs(): number;
  monotonicMs(): number;
}

/** systemClock: Date.now() and performance.now(). */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
};
