import type { ScheduleSpec } from './schedule-spec';

/** Tick: one (schedule, scheduled instant) to turn into a job. */
export interface Tick {
  spec: ScheduleSpec;
  fireAtMs: number;
}

/** SkipReason: why a tick became no job: it already did, its previous run is still going, or schedules changed. */
export type SkipReason = 'already-enqueued' | 'overlap' | 'stale-schedules';

/** SkippedTick: a tick that was not enqueued, and why. */
export interface SkippedTick {
  tick: Tick;
  reason: SkipReason;
}

/** BatchState: what the enqueuer read under WATCH for one batch. */
export interface BatchState {
  /** cursors: name → last enqueued instant (epoch ms); absent means none. */
  cursors: Map<string, number>;
  /** activeRunning: names of overlap=skip schedules whose last job is still queued or running. */
  activeRunning: Set<string>;
}

/** BatchPlan: what one MULTI writes. */
export interface BatchPlan {
  enqueue: Tick[];
  skipped: SkippedTick[];
  /** newCursors: name → the newest instant this batch settles (enqueued or skipped for overlap). */
  newCursors: Map<string, number>;
}

/**
 * sortTicks orders ticks by instant, keeping the given order within an
 * instant, and drops exact duplicates. Instant first: a leader that starts
 * (or catches up) with several instants to write gets the earliest one into
 * Redis first, for every schedule, instead of the last schedule's earliest
 * tick after all the others' later ones; each schedule's ticks still come in
 * instant order, which is what planBatch and the cursors need. Linear in the
 * ticks (a bucket per instant): a comparison sort of a 100,000-tick catch-up
 * by instant and name held the event loop 0.3 s.
 */
export function sortTicks(ticks: readonly Tick[]): Tick[] {
  const byInstant = new Map<number, Map<string, Tick>>();
  for (const t of ticks) {
    let bucket = byInstant.get(t.fireAtMs);
    if (!bucket) byInstant.set(t.fireAtMs, (bucket = new Map()));
    if (!bucket.has(t.spec.name)) bucket.set(t.spec.name, t);
  }
  const sorted: Tick[] = [];
  for (const instant of [...byInstant.keys()].sort((a, b) => a - b)) {
    for (const t of byInstant.get(instant)!.values()) sorted.push(t);
  }
  return sorted;
}

/** splitBatches cuts sorted ticks into consecutive batches of at most `size` (≥ 1). */
export function splitBatches(sorted: readonly Tick[], size: number): Tick[][] {
  const batches: Tick[][] = [];
  for (let i = 0; i < sorted.length; i += size) batches.push(sorted.slice(i, i + size));
  return batches;
}

/**
 * planBatch decides each tick of a sorted batch: at or before the cursor it
 * is already enqueued (that is what keeps it exactly once, even after its job
 * was removed); for overlap=skip, a tick whose previous run is still going,
 * or that follows another tick of the same schedule in this batch, is
 * skipped for overlap but still moves the cursor, so it is never retried.
 */
export function planBatch(sorted: readonly Tick[], state: BatchState): BatchPlan {
  const plan: BatchPlan = { enqueue: [], skipped: [], newCursors: new Map() };
  const busy = new Set(state.activeRunning);
  for (const tick of sorted) {
    const { name } = tick.spec;
    const cursor = state.cursors.get(name);
    if (cursor !== undefined && tick.fireAtMs <= cursor) {
      plan.skipped.push({ tick, reason: 'already-enqueued' });
      continue;
    }
    plan.newCursors.set(name, tick.fireAtMs);
    if (tick.spec.overlap === 'skip' && busy.has(name)) {
      plan.skipped.push({ tick, reason: 'overlap' });
      continue;
    }
    if (tick.spec.overlap === 'skip') busy.add(name);
    plan.enqueue.push(tick);
  }
  return plan;
}
