import { BatonCluster } from '../cluster/harness/baton-cluster';
import { runFigures, settleAndCheck, type RunFigures } from '../cluster/harness/chaos-steps';
import { startTicking } from '../cluster/harness/scenario';
import { sleep } from '../cluster/harness/wait';
import { WebhookReceiver } from '../cluster/harness/webhook-receiver';
import { between, FAULT_KINDS, injectFault, mulberry32, type FaultKind, type InjectedFault } from './chaos-faults';

/** ChaosOptions: one randomized run. */
export interface ChaosOptions {
  /** seed: drives the fault plan (kinds, targets, hold times); print it to replay a failure. */
  seed: number;
  /** durationMs: how long faults are injected (the run takes ~20 s more: boot and settle). */
  durationMs: number;
  /** nodes: node count (default 3). */
  nodes?: number;
  /** leaseMs: BATON_LEASE_MS (default 2000). */
  leaseMs?: number;
  /** faults: the mix (default FAULT_KINDS). */
  faults?: readonly FaultKind[];
  /** progress: called with one line per fault (default: nothing). */
  progress?: (line: string) => void;
}

/** ChaosReport: what a run did and saw; `problems` empty means every guarantee held. */
export interface ChaosReport extends RunFigures {
  seed: number;
  nodes: number;
  leaseMs: number;
  durationMs: number;
  /** plannedMs: the durationMs asked for (what a replay passes). */
  plannedMs: number;
  faults: InjectedFault[];
  faultCounts: Record<string, number>;
  transitionsPerMinute: number;
  ticksExpected: number;
  ticksDelivered: number;
  ticksLost: number;
  ticksDoubled: number;
  lostReasons: Record<string, number>;
  problems: string[];
}

const SCHEDULE = 'tick';
/** HANDLER_DELAY_MS: the receiver answers each tick this late, so a killed worker often has a job in flight. */
const HANDLER_DELAY_MS = 2000;

/**
 * runChaos boots a proxied 3-node cluster on an AOF Redis (appendfsync
 * always), starts an every-second `http` schedule against a receiver that
 * answers in 2 s, then injects faults drawn from `seed` one after another
 * for `durationMs`, each undone before the next and the cluster given time
 * to become ready again. At the end it heals everything, waits for the
 * catch-up and checks every guarantee over the whole run.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const rng = mulberry32(options.seed);
  const nodeIds = Array.from({ length: options.nodes ?? 3 }, (_, i) => `n${i + 1}`);
  const receiver = await WebhookReceiver.start();
  receiver.behave(`/hook/${SCHEDULE}`, { delayMs: HANDLER_DELAY_MS });
  const cluster = await BatonCluster.create({ nodeIds, leaseMs: options.leaseMs ?? 2000, jobLockMs: 2000, proxied: true, appendOnly: true });
  try {
    await startTicking({ cluster, receiver }, SCHEDULE, 2);
    const startedAt = Date.now();
    const faults: InjectedFault[] = [];
    const kinds = options.faults ?? FAULT_KINDS;
    while (Date.now() - startedAt < options.durationMs) {
      const kind = kinds[Math.floor(rng() * kinds.length)];
      const fault = await injectFault(cluster, kind, rng);
      faults.push(fault);
      options.progress?.(`${new Date(fault.at).toISOString()} ${kind} ${fault.target}${fault.targetWasLeader ? ' (leader)' : ''} for ${fault.holdMs} ms`);
      await recover(cluster);
      await sleep(between(rng, 200, 2 * cluster.leaseMs));
    }
    const endedAt = Date.now();
    const check = await settleAndCheck(cluster, receiver, SCHEDULE, endedAt + 2000, 30_000);
    return buildReport(options, cluster, faults, check, startedAt, endedAt);
  } catch (err) {
    (err as Error).message += `\nseed ${options.seed}\n${cluster.report(60)}`;
    throw err;
  } finally {
    await cluster.shutdown();
    await receiver.close();
  }
}

/** recover waits until every node answers /health/ready again (a started node boots; a resumed one reconnects). */
async function recover(cluster: BatonCluster): Promise<void> {
  await Promise.all(cluster.ids.map((id) => cluster.waitReady(id, 30_000)));
}

function buildReport(
  options: ChaosOptions,
  cluster: BatonCluster,
  faults: InjectedFault[],
  check: Awaited<ReturnType<typeof settleAndCheck>>,
  startedAt: number,
  endedAt: number,
): ChaosReport {
  const figures = runFigures(cluster, check, startedAt, endedAt);
  const faultCounts: Record<string, number> = {};
  for (const f of faults) faultCounts[f.kind] = (faultCounts[f.kind] ?? 0) + 1;
  const lostReasons: Record<string, number> = {};
  for (const r of cluster.events('leader.lost')) lostReasons[String(r.reason)] = (lostReasons[String(r.reason)] ?? 0) + 1;
  const { report } = check;
  const expected = Math.round((check.window.toMs - check.window.fromMs) / 1000) + 1;
  return {
    seed: options.seed,
    nodes: cluster.ids.length,
    leaseMs: cluster.leaseMs,
    durationMs: endedAt - startedAt,
    plannedMs: options.durationMs,
    faults,
    faultCounts,
    ...figures,
    transitionsPerMinute: Math.round((figures.transitions / ((endedAt - startedAt) / 60_000)) * 10) / 10,
    ticksExpected: expected,
    ticksDelivered: report.instants.length,
    ticksLost: report.missing.length,
    ticksDoubled: report.doubled.length,
    lostReasons,
    problems: check.problems,
  };
}

/** formatReport renders a ChaosReport for a terminal. */
export function formatReport(r: ChaosReport): string {
  const lines = [
    `chaos run: seed ${r.seed}, ${r.nodes} nodes, lease ${r.leaseMs} ms, ${Math.round(r.durationMs / 1000)} s of faults`,
    `faults injected:        ${r.faults.length} (${Object.entries(r.faultCounts).map(([k, n]) => `${k} ${n}`).join(', ')})`,
    `  of which on the leader: ${r.faults.filter((f) => f.targetWasLeader).length}`,
    `leadership transitions: ${r.transitions} (${r.transitionsPerMinute}/min); leader.lost by reason: ${JSON.stringify(r.lostReasons)}`,
    `max time without a leader: ${r.maxLeaderlessMs} ms`,
    `ticks expected ${r.ticksExpected} / delivered ${r.ticksDelivered} / lost ${r.ticksLost} / doubled ${r.ticksDoubled}`,
    `stale-leader enqueues refused by the fence (schedule.fenced-off): ${r.fencedOff}`,
    `jobs re-run after a worker died or stalled: ${r.jobsRerun} (job.stalled events: ${r.stalled})`,
    r.problems.length ? `VIOLATIONS (${r.problems.length}):\n  ${r.problems.join('\n  ')}` : 'violations: none',
    `replay: npm run chaos -- --minutes ${Math.round((r.plannedMs / 60_000) * 1000) / 1000} --seed ${r.seed} --nodes ${r.nodes} --lease ${r.leaseMs}`,
  ];
  return lines.join('\n');
}
