import type { Disruption } from './baton-cluster';
import type { Delivery, WebhookReceiver } from './webhook-receiver';

/** TickReport: what the receiver saw of one schedule's ticks inside a window. */
export interface TickReport {
  schedule: string;
  /** fromMs / toMs: the window checked (inclusive), epoch ms of scheduled instants. */
  fromMs: number;
  toMs: number;
  /** instants: distinct scheduledFor values seen in the window, ascending (epoch ms). */
  instants: number[];
  /** missing: instants of the window (every periodMs) with no delivery. */
  missing: string[];
  /** doubled: instants that arrived under more than one job id (two jobs for one tick). */
  doubled: { scheduledFor: string; jobIds: string[] }[];
  /** redelivered: job ids delivered more than once, with the times each delivery arrived. */
  redelivered: { jobId: string; receivedAt: number[]; attempts: number[] }[];
  /** badKeys: deliveries whose Idempotency-Key header is not their body's jobId. */
  badKeys: { jobId: string; idempotencyKey: string | undefined }[];
}

/** instantOf: a delivery's scheduledFor in epoch ms (NaN if absent). */
export function instantOf(d: Delivery): number {
  return Date.parse(d.body?.scheduledFor);
}

/**
 * analyseTicks checks one schedule's deliveries against a window of instants
 * `periodMs` apart: which are missing, which became two jobs, which job was
 * delivered twice, and whether each Idempotency-Key equals the jobId. The
 * window defaults to the first and last instant delivered.
 */
export function analyseTicks(
  deliveries: Delivery[],
  schedule: string,
  window: { fromMs?: number; toMs?: number } = {},
  periodMs = 1000,
): TickReport {
  const mine = deliveries.filter((d) => d.body?.schedule === schedule);
  const all = mine.map(instantOf).filter((t) => !Number.isNaN(t));
  const fromMs = window.fromMs ?? Math.min(...all);
  const toMs = window.toMs ?? Math.max(...all);
  const inWindow = mine.filter((d) => instantOf(d) >= fromMs && instantOf(d) <= toMs);

  const jobsByInstant = new Map<number, Set<string>>();
  const byJob = new Map<string, Delivery[]>();
  for (const d of inWindow) {
    const t = instantOf(d);
    jobsByInstant.set(t, (jobsByInstant.get(t) ?? new Set()).add(String(d.body.jobId)));
    byJob.set(String(d.body.jobId), [...(byJob.get(String(d.body.jobId)) ?? []), d]);
  }
  const missing: string[] = [];
  for (let t = fromMs; t <= toMs; t += periodMs) if (!jobsByInstant.has(t)) missing.push(new Date(t).toISOString());

  return {
    schedule,
    fromMs,
    toMs,
    instants: [...jobsByInstant.keys()].sort((a, b) => a - b),
    missing,
    doubled: [...jobsByInstant]
      .filter(([, ids]) => ids.size > 1)
      .map(([t, ids]) => ({ scheduledFor: new Date(t).toISOString(), jobIds: [...ids] })),
    redelivered: [...byJob]
      .filter(([, ds]) => ds.length > 1)
      .map(([jobId, ds]) => ({ jobId, receivedAt: ds.map((d) => d.receivedAt), attempts: ds.map((d) => d.body.attempt) })),
    badKeys: inWindow
      .filter((d) => d.headers['idempotency-key'] !== String(d.body.jobId))
      .map((d) => ({ jobId: String(d.body.jobId), idempotencyKey: d.headers['idempotency-key'] as string | undefined })),
  };
}

/**
 * LASTING_UNTIL: the faults that last, and the disruption of the same node
 * that ends each: a link fault (cut, black hole, latency) or a blocked event
 * loop until its heal, a paused process until its resume.
 */
const LASTING_UNTIL: Partial<Record<Disruption['kind'], Disruption['kind']>> = {
  cut: 'heal', blackhole: 'heal', latency: 'heal', block: 'heal', pause: 'resume',
};

/**
 * faultWindows: when each disruption could have left a job in flight. A
 * crash-like fault is a moment; a lasting one (LASTING_UNTIL) lasts until
 * the same node's next heal or resume: while a worker is paused, blocked, or
 * its Redis link cut or slow, it cannot renew its job locks in time, so
 * BullMQ re-runs its jobs elsewhere, and the stalled attempt may still
 * deliver once the node runs again — at-least-once execution, which the
 * Idempotency-Key covers.
 */
export function faultWindows(disruptions: Disruption[]): { from: number; to: number }[] {
  const faults = disruptions.filter((d) => d.kind !== 'start' && d.kind !== 'resume' && d.kind !== 'heal');
  return faults.map((d) => {
    const endKind = LASTING_UNTIL[d.kind];
    if (!endKind) return { from: d.at, to: d.at };
    const end = disruptions.find((h) => h.kind === endKind && h.id === d.id && h.at >= d.at);
    return { from: d.at, to: end?.at ?? Number.POSITIVE_INFINITY };
  });
}

/**
 * tickProblems lists every breach of "each instant delivered exactly once":
 * missing instants, instants that became two jobs, wrong Idempotency-Keys,
 * and redeliveries of one job that no fault explains. A redelivery is
 * explained (at-least-once execution) only when its first delivery falls
 * from explainMs before a fault window (see faultWindows) to 200 ms after a
 * crash-like fault or explainMs after a lasting fault ended, i.e. while the
 * job could have been in flight on the node the fault hit.
 */
export function tickProblems(report: TickReport, disruptions: Disruption[], explainMs = 2000): string[] {
  const windows = faultWindows(disruptions);
  // A job first delivered up to explainMs before a fault was in flight when it hit; after a lasting
  // fault ends, jobs taken during it may still be delivered late, so that end gets explainMs too.
  const explains = (w: { from: number; to: number }, t: number) =>
    t >= w.from - explainMs && t <= w.to + (w.to > w.from ? explainMs : 200);
  const unexplained = report.redelivered.filter((r) => !windows.some((w) => explains(w, r.receivedAt[0])));
  return [
    ...report.missing.map((t) => `missing tick ${t}`),
    ...report.doubled.map((d) => `tick ${d.scheduledFor} became ${d.jobIds.length} jobs: ${d.jobIds.join(', ')}`),
    ...report.badKeys.map((b) => `job ${b.jobId} came with Idempotency-Key ${b.idempotencyKey}`),
    ...unexplained.map((r) => `job ${r.jobId} delivered ${r.receivedAt.length} times (attempts ${r.attempts}) with no fault near it`),
  ];
}

/** waitForTicks waits until every instant from fromMs to toMs (periodMs apart) of `schedule` was delivered. */
export async function waitForTicks(
  receiver: WebhookReceiver,
  schedule: string,
  fromMs: number,
  toMs: number,
  deadlineMs: number,
  periodMs = 1000,
): Promise<void> {
  await receiver.waitFor(
    (ds) => analyseTicks(ds, schedule, { fromMs, toMs }, periodMs).missing.length === 0,
    deadlineMs,
    `every tick of ${schedule} from ${new Date(fromMs).toISOString()} to ${new Date(toMs).toISOString()}`,
  ).catch((err: Error) => {
    const missing = analyseTicks(receiver.deliveries, schedule, { fromMs, toMs }, periodMs).missing;
    throw new Error(`${err.message}\nstill missing: ${missing.join(', ')}`);
  });
}

/** firstInstant: the earliest scheduledFor (epoch ms) delivered for `schedule`, or undefined. */
export function firstInstant(deliveries: Delivery[], schedule: string): number | undefined {
  const all = deliveries.filter((d) => d.body?.schedule === schedule).map(instantOf);
  return all.length ? Math.min(...all) : undefined;
}

/**
 * verifyTicks waits (up to deadlineMs) for every instant of `schedule` from
 * fromMs to toMs to arrive, then returns the report and tickProblems() for
 * that window; it never throws for missing ticks, the test asserts on
 * `problems` so the failure lists them all.
 */
export async function verifyTicks(
  receiver: WebhookReceiver,
  disruptions: Disruption[],
  schedule: string,
  window: { fromMs: number; toMs: number },
  deadlineMs = 10_000,
): Promise<{ report: TickReport; problems: string[] }> {
  await waitForTicks(receiver, schedule, window.fromMs, window.toMs, deadlineMs).catch(() => undefined);
  const report = analyseTicks(receiver.deliveries, schedule, window);
  return { report, problems: tickProblems(report, disruptions) };
}
