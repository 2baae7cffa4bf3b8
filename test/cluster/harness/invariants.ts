import type { Disruption } from './baton-cluster';
import { actingLeaderProblems } from './leadership';
import type { LogRecord } from './node-process';
import { analyseTicks, instantOf, tickProblems, type TickReport } from './ticks';
import type { Delivery } from './webhook-receiver';

/** LeadershipSpan: one term as the logs and the harness saw it; `toMs` is when it ended or could no longer act. */
export interface LeadershipSpan {
  node: string;
  term: number;
  fromMs: number;
  toMs: number;
  /** endedBy: `leader.lost`, `leader.resigned`, a disruption kind hitting the node, or `open` (still leading). */
  endedBy: string;
}

/** FAULTS_THAT_SILENCE: disruptions after which a leader cannot act (or must stop acting soon). */
const FAULTS_THAT_SILENCE = new Set<Disruption['kind']>(['kill', 'pause', 'stop', 'cut', 'blackhole']);

/**
 * leadershipSpans rebuilds every term from `leader.elected` to the first of
 * the node's `leader.lost`/`leader.resigned`, a fault the harness injected
 * into that node (kill, pause, stop, cut, blackhole) or a later election
 * (someone else took over). `nowMs` closes terms still open.
 */
export function leadershipSpans(records: LogRecord[], disruptions: Disruption[], nowMs = Date.now()): LeadershipSpan[] {
  const elections = records.filter((r) => r.event === 'leader.elected').sort((a, b) => a.time - b.time);
  return elections.map((e, i) => {
    const node = e.source;
    const endings: { at: number; by: string }[] = [{ at: nowMs, by: 'open' }];
    const next = elections[i + 1];
    if (next) endings.push({ at: next.time, by: `election of ${next.source}` });
    const own = records.find(
      (r) => r.source === node && (r.event === 'leader.lost' || r.event === 'leader.resigned') && Number(r.term) === Number(e.term),
    );
    if (own) endings.push({ at: own.time, by: String(own.event) });
    const fault = disruptions.find((d) => d.id === node && FAULTS_THAT_SILENCE.has(d.kind) && d.at >= e.time);
    if (fault) endings.push({ at: fault.at, by: fault.kind });
    const end = endings.reduce((a, b) => (b.at < a.at ? b : a));
    return { node, term: Number(e.term), fromMs: e.time, toMs: Math.max(e.time, end.at), endedBy: end.by };
  });
}

/** termProblems: `leader.elected` terms must rise strictly in the order the elections happened. */
export function termProblems(records: LogRecord[]): string[] {
  const elections = records.filter((r) => r.event === 'leader.elected').sort((a, b) => a.time - b.time);
  const problems: string[] = [];
  let highest = -Infinity;
  for (const e of elections) {
    const t = Number(e.term);
    if (!(t > highest)) problems.push(`${e.source} elected with term ${t} at ${e.time}, not above the earlier ${highest}`);
    highest = Math.max(highest, t);
  }
  return problems;
}

/**
 * tokenOrderProblems checks the ground truth the fence leaves in the jobs
 * themselves: ordered by scheduled instant, the fencing tokens the webhook
 * bodies carry never go down. A stale leader that enqueued after a newer
 * one had moved the schedule's cursor would show as a lower token after a
 * higher one.
 */
export function tokenOrderProblems(deliveries: Delivery[], schedule: string): string[] {
  const byInstant = new Map<number, number>();
  for (const d of deliveries) {
    if (d.body?.schedule !== schedule) continue;
    byInstant.set(instantOf(d), Math.max(byInstant.get(instantOf(d)) ?? -Infinity, Number(d.body.fencingToken)));
  }
  const sorted = [...byInstant].sort((a, b) => a[0] - b[0]);
  const problems: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const [t, token] = sorted[i];
    const [pt, ptoken] = sorted[i - 1];
    if (token < ptoken) {
      problems.push(`${schedule} ${new Date(t).toISOString()} has token ${token}, below ${ptoken} of the earlier ${new Date(pt).toISOString()}`);
    }
  }
  return problems;
}

/**
 * earlyProblems: a cron job must never run before its instant (leaders
 * prepare an instant's jobs ahead of it, and must hold them until it comes).
 * Same machine, same clock: a delivery received before its scheduledFor is
 * a job that was enqueued early. Manual triggers carry their trigger time.
 */
export function earlyProblems(deliveries: Delivery[], schedule: string): string[] {
  return deliveries
    .filter((d) => d.body?.schedule === schedule && d.receivedAt < instantOf(d))
    .map((d) => `${schedule} ${d.body.scheduledFor} was delivered ${instantOf(d) - d.receivedAt} ms before its instant`);
}

/** leaderlessGaps: intervals inside [fromMs, toMs] covered by no LeadershipSpan, longest first. */
export function leaderlessGaps(spans: LeadershipSpan[], fromMs: number, toMs: number): { fromMs: number; toMs: number; ms: number }[] {
  const gaps: { fromMs: number; toMs: number; ms: number }[] = [];
  let cursor = fromMs;
  for (const s of [...spans].sort((a, b) => a.fromMs - b.fromMs)) {
    if (s.fromMs > cursor && cursor < toMs) gaps.push({ fromMs: cursor, toMs: Math.min(s.fromMs, toMs), ms: Math.min(s.fromMs, toMs) - cursor });
    cursor = Math.max(cursor, s.toMs);
  }
  if (cursor < toMs) gaps.push({ fromMs: cursor, toMs, ms: toMs - cursor });
  return gaps.sort((a, b) => b.ms - a.ms);
}

/** transitionsIn: `leader.elected` events logged inside [fromMs, toMs]. */
export function transitionsIn(records: LogRecord[], fromMs: number, toMs: number): LogRecord[] {
  return records.filter((r) => r.event === 'leader.elected' && r.time >= fromMs && r.time <= toMs);
}

/** GuaranteeCheck: a tick window's report plus every breach of DESIGN.md's guarantees found in it. */
export interface GuaranteeCheck {
  report: TickReport;
  problems: string[];
}

/**
 * guaranteeProblems runs every check on one schedule's window: each instant
 * delivered exactly once (tickProblems: none missing = no tick and no job
 * lost, none doubled, redeliveries only near a fault), tokens never going
 * down by instant, none delivered before its instant, terms strictly rising, and no node firing after another
 * was elected (actingLeaderProblems).
 */
export function guaranteeProblems(
  records: LogRecord[],
  deliveries: Delivery[],
  disruptions: Disruption[],
  schedule: string,
  window: { fromMs: number; toMs: number },
  explainMs = 4000,
): GuaranteeCheck {
  const report = analyseTicks(deliveries, schedule, window);
  const inWindow = deliveries.filter((d) => instantOf(d) >= window.fromMs && instantOf(d) <= window.toMs);
  return {
    report,
    problems: [
      ...tickProblems(report, disruptions, explainMs),
      ...tokenOrderProblems(inWindow, schedule),
      ...earlyProblems(inWindow, schedule),
      ...termProblems(records),
      ...actingLeaderProblems(records),
    ],
  };
}
