import type { BatonCluster } from '../cluster/harness/baton-cluster';
import { atMidSecond, currentLeader, renewDeadlineOf } from '../cluster/harness/chaos-steps';
import { sleep } from '../cluster/harness/wait';

/** FaultKind: every fault the chaos run mixes. */
export type FaultKind = 'kill' | 'pause' | 'stop' | 'redis-restart' | 'cut' | 'blackhole' | 'latency';

/** FAULT_KINDS: the default mix, each equally likely. */
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'pause', 'stop', 'redis-restart', 'cut', 'blackhole', 'latency'];

/** Rng: a seeded generator of floats in [0, 1). */
export type Rng = () => number;

/** mulberry32 returns a small, fast, seeded PRNG: the same seed gives the same fault plan. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** between: a uniform integer in [lo, hi]. */
export function between(rng: Rng, lo: number, hi: number): number {
  return Math.round(lo + rng() * (hi - lo));
}

/** InjectedFault: one fault of the run, for the report and for replay. */
export interface InjectedFault {
  kind: FaultKind;
  target: string;
  /** targetWasLeader: the target led when the fault began (by the logs). */
  targetWasLeader: boolean;
  at: number;
  holdMs: number;
}

/**
 * pickTarget: the current leader with probability 0.7 (faults that matter),
 * else any node, drawn from `rng` (so a seed replays the same choices).
 */
export function pickTarget(cluster: BatonCluster, rng: Rng): { id: string; leader: boolean } {
  const leader = currentLeader(cluster)?.source;
  const ids = cluster.ids;
  const roll = rng();
  const anyId = ids[Math.floor(rng() * ids.length)];
  if (leader && roll < 0.7) return { id: leader, leader: true };
  return { id: anyId, leader: anyId === leader };
}

/**
 * injectFault applies one fault to `target`, holds it, and undoes it:
 * kill → SIGKILL, wait, start again; pause → SIGSTOP past the lease, SIGCONT;
 * stop → SIGTERM, start again; redis-restart → SIGTERM or SIGKILL the AOF
 * Redis and start it again; cut / blackhole / latency (0.8 × renew deadline)
 * on the target's proxy, then heal. It injects mid-second (see MID_SECOND_MS).
 * Resolves when the fault is undone (not when the cluster recovered).
 */
export async function injectFault(cluster: BatonCluster, kind: FaultKind, rng: Rng): Promise<InjectedFault> {
  const lease = cluster.leaseMs;
  const { id, leader } = pickTarget(cluster, rng);
  const holdMs = holdFor(kind, lease, rng);
  const restartKill = rng() < 0.5;
  const at = await atMidSecond(150);
  switch (kind) {
    case 'kill':
      await cluster.kill(id);
      await sleep(holdMs);
      cluster.start(id);
      break;
    case 'pause':
      cluster.pause(id);
      await sleep(holdMs);
      cluster.resume(id);
      break;
    case 'stop':
      await cluster.stop(id);
      await sleep(holdMs);
      cluster.start(id);
      break;
    case 'redis-restart':
      await cluster.restartRedis({ kill: restartKill });
      break;
    case 'cut':
    case 'blackhole':
    case 'latency':
      if (kind === 'cut') cluster.cutRedis(id);
      else if (kind === 'blackhole') cluster.blackholeRedis(id);
      else cluster.slowRedis(id, Math.round(0.8 * renewDeadlineOf(lease)));
      await sleep(holdMs);
      cluster.healRedis(id);
      break;
  }
  const onRedis = kind === 'redis-restart';
  return { kind, target: onRedis ? 'redis' : id, targetWasLeader: !onRedis && leader, at, holdMs };
}

function holdFor(kind: FaultKind, lease: number, rng: Rng): number {
  switch (kind) {
    case 'pause':
    case 'blackhole':
      return between(rng, Math.round(1.2 * lease), Math.round(2.5 * lease)); // past the lease
    case 'cut':
      return between(rng, Math.round(0.3 * lease), Math.round(2 * lease));
    case 'latency':
      return between(rng, 2 * lease, 4 * lease);
    case 'kill':
    case 'stop':
      return between(rng, 0, lease);
    default:
      return 0;
  }
}
