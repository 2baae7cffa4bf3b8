import { batonKeys, type BatonKeys, type Clock } from '@lib/common';
import type { Redis } from 'ioredis';

/** NodeInfo: what one node advertises in its heartbeat. */
export interface NodeInfo {
  nodeId: string;
  host: string;
  pid: number;
  version: string;
  startedAt: string;
  handlers: string[];
}

/** NodeView: a live node as the cluster view shows it. */
export interface NodeView extends NodeInfo {
  lastSeenAt: string;
}

/**
 * NodeRegistry keeps this node's heartbeat in Redis (hash `nodes` plus the
 * sorted set `nodesSeen`, two pipelined commands per beat) and reads the live nodes:
 * those seen within three heartbeats. Stale entries are pruned on read.
 */
export class NodeRegistry {
  private readonly keys: BatonKeys;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly opts: { redis: Redis; prefix: string; clock: Clock; heartbeatMs: number; info: () => NodeInfo },
  ) {
    if (!(opts.heartbeatMs > 0)) throw new Error('NodeRegistry: heartbeatMs must be > 0');
    this.keys = batonKeys(opts.prefix);
  }

  /** start beats now and then every heartbeatMs; a failed beat is retried at the next one. */
  start(): void {
    const tick = () => void this.beat().catch(() => undefined);
    tick();
    this.timer = setInterval(tick, this.opts.heartbeatMs);
    this.timer.unref();
  }

  /** beat writes this node's info and last-seen time (a pipeline, not MULTI: two commands a beat, cheap when idle). */
  async beat(): Promise<void> {
    const info = this.opts.info();
    await this.opts.redis
      .pipeline()
      .hset(this.keys.nodes, info.nodeId, JSON.stringify(info))
      .zadd(this.keys.nodesSeen, this.opts.clock.nowMs(), info.nodeId)
      .exec();
  }

  /** stop ends the heartbeat and removes this node from the view (graceful shutdown). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const id = this.opts.info().nodeId;
    await this.opts.redis.multi().hdel(this.keys.nodes, id).zrem(this.keys.nodesSeen, id).exec();
  }

  /** live lists the nodes seen within 3 heartbeats, oldest start first. */
  async live(): Promise<NodeView[]> {
    const cutoff = this.opts.clock.nowMs() - 3 * this.opts.heartbeatMs;
    const stale = await this.opts.redis.zrangebyscore(this.keys.nodesSeen, '-inf', `(${cutoff}`);
    if (stale.length > 0) {
      await this.opts.redis.multi().zrem(this.keys.nodesSeen, ...stale).hdel(this.keys.nodes, ...stale).exec();
    }
    const seen = await this.opts.redis.zrangebyscore(this.keys.nodesSeen, cutoff, '+inf', 'WITHSCORES');
    const ids: string[] = [];
    const lastSeen = new Map<string, number>();
    for (let i = 0; i < seen.length; i += 2) {
      ids.push(seen[i]);
      lastSeen.set(seen[i], Number(seen[i + 1]));
    }
    if (ids.length === 0) return [];
    const raw = await this.opts.redis.hmget(this.keys.nodes, ...ids);
    const views: NodeView[] = [];
    raw.forEach((json, i) => {
      if (!json) return;
      const info = JSON.parse(json) as NodeInfo;
      views.push({ ...info, lastSeenAt: new Date(lastSeen.get(ids[i])!).toISOString() });
    });
    return views.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.nodeId.localeCompare(b.nodeId));
  }

  /** liveHandlers: the union of handlers offered by live nodes and by this node. */
  async liveHandlers(): Promise<Set<string>> {
    const names = new Set(this.opts.info().handlers);
    for (const node of await this.live()) node.handlers.forEach((h) => names.add(h));
    return names;
  }
}
