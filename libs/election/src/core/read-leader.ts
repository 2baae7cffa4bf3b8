import { batonKeys } from '@lib/common';
import type { Redis } from 'ioredis';
import { parseHolderValue } from './lease-lock';

/** LeaderView: the current leader as the admin API shows it. */
export interface LeaderView {
  nodeId: string;
  /** term: the leadership's fencing token. */
  term: number;
  /** since: when this leadership began (epoch ms, Redis clock); null if the info record is missing. */
  since: number | null;
  /** leaseRemainingMs: time until the lease expires unless renewed. */
  leaseRemainingMs: number;
}

/**
 * readLeader reads who leads the deployment `prefix` in one pipelined round
 * trip (GET + PTTL of the lease, HGETALL of the leader info). Null when
 * nobody holds the lease.
 */
export async function readLeader(redis: Redis, prefix: string): Promise<LeaderView | null> {
  const keys = batonKeys(prefix);
  const replies = await redis.pipeline().get(keys.leader).pttl(keys.leader).hgetall(keys.leaderInfo).exec();
  const [[e1, value], [e2, pttl], [e3, info]] = replies!;
  if (e1 || e2 || e3) throw e1 ?? e2 ?? e3;
  const holder = typeof value === 'string' ? parseHolderValue(value) : null;
  if (!holder) return null;
  const record = (info ?? {}) as Record<string, string>;
  const since = Number(record.term) === holder.token && record.since ? Number(record.since) : null;
  return { nodeId: holder.nodeId, term: holder.token, since, leaseRemainingMs: Math.max(0, Number(pttl)) };
}
