import type { BatonCluster } from './baton-cluster';
import { guaranteeProblems, leaderlessGaps, leadershipSpans, transitionsIn, type GuaranteeCheck } from './invariants';
import type { LogRecord } from './node-process';
import { firstInstant, waitForTicks } from './ticks';
import { sleep, untilTime } from './wait';
import type { WebhookReceiver } from './webhook-receiver';

/**
 * MID_SECOND_MS: faults are injected this far into a wall-clock second. An
 * every-second schedule enqueues in the first few ms of each second; a fault
 * that lands mid-second never catches an enqueue half-way, so a reply held by
 * a black hole cannot make a legitimate fire look like a stale one in the
 * logs (the fence in Redis decides either way; this only keeps the log-based
 * check exact).
 */
export const MID_SECOND_MS = 400;

/** atMidSecond waits until the wall clock is MID_SECOND_MS (±jitterMs) into a second. */
export async function atMidSecond(jitterMs = 0): Promise<number> {
  const now = Date.now();
  let target = Math.floor(now / 1000) * 1000 + MID_SECOND_MS + Math.round((Math.random() * 2 - 1) * jitterMs);
  if (target <= now) target += 1000;
  await untilTime(target);
  return Date.now();
}

/** renewDeadlineOf: the renew deadline a node derives from its lease (round(0.6 · lease), as election-timings.ts). */
export function renewDeadlineOf(leaseMs: number): number {
  return Math.round(leaseMs * 0.6);
}

/** currentLeader: the node whose latest `leader.elected` has no later `leader.lost`/`leader.resigned` of its own, if any. */
export function currentLeader(cluster: BatonCluster): LogRecord | undefined {
  const last = cluster.events('leader.elected').sort((a, b) => a.time - b.time).pop();
  if (!last) return undefined;
  const ended = cluster.events(
    (r) => r.source === last.source && (r.event === 'leader.lost' || r.event === 'leader.resigned') && Number(r.term) === Number(last.term),
  );
  return ended.length ? undefined : last;
}

/** RunFigures: what a chaos run measured. */
export interface RunFigures {
  transitions: number;
  maxLeaderlessMs: number;
  fencedOff: number;
  jobsRerun: number;
  stalled: number;
}

/** runFigures: transitions, the longest time without an acting leader, fence refusals and re-runs over [fromMs, toMs]. */
export function runFigures(cluster: BatonCluster, check: GuaranteeCheck, fromMs: number, toMs: number): RunFigures {
  const spans = leadershipSpans(cluster.records, cluster.disruptions, toMs);
  const gaps = leaderlessGaps(spans, fromMs, toMs);
  return {
    transitions: transitionsIn(cluster.records, fromMs, toMs).length,
    maxLeaderlessMs: gaps[0]?.ms ?? 0,
    fencedOff: cluster.events('schedule.fenced-off').length,
    jobsRerun: check.report.redelivered.length,
    stalled: cluster.events('job.stalled').length,
  };
}

/**
 * settleAndCheck waits until every instant of `schedule` from its first
 * delivery up to `untilMs` arrived (or `deadlineMs` passed), then runs
 * guaranteeProblems over that window.
 */
export async function settleAndCheck(
  cluster: BatonCluster,
  receiver: WebhookReceiver,
  schedule: string,
  untilMs: number,
  deadlineMs = 15_000,
): Promise<GuaranteeCheck & { window: { fromMs: number; toMs: number } }> {
  const fromMs = firstInstant(receiver.deliveries, schedule)!;
  const toMs = Math.floor(untilMs / 1000) * 1000;
  await untilTime(toMs + 500);
  await waitForTicks(receiver, schedule, fromMs, toMs, deadlineMs).catch(() => undefined);
  await sleep(300); // a doubled delivery of the last instants would arrive about now
  const window = { fromMs, toMs };
  return { ...guaranteeProblems(cluster.records, receiver.deliveries, cluster.disruptions, schedule, window), window };
}
