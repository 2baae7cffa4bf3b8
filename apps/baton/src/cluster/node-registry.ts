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
 * NodeRegistry keeps this node's heartbeat in Redis — one HSET a beat of
 * `{...info, lastSeenAt}` into the hash `nodes`, the cheapest heartbeat there
 * is (idle Redis traffic per node is a cost we keep under 1 command/s) — and
 * reads the live nodes: those seen within three heartbeats. Stale entries
 * are pruned on read (see live).
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

  /** beat writes this node's info and last-seen time. */
  async beat(): Promise<void> {
    const info = this.opts.info();
    const view: NodeView = { ...info, lastSeenAt: new Date(this.opts.clock.nowMs()).toISOString() };
    await this.opts.redis.hset(this.keys.nodes, info.nodeId, JSON.stringify(view));
  }

  /** stop ends the heartbeat and removes this node from the view (graceful shutdown). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.opts.redis.hdel(this.keys.nodes, this.opts.info().nodeId);
  }

  /**
   * live lists the nodes seen within 3 heartbeats, oldest start first, and
   * forgets the others, each only while its entry is still the one read: a
   * node that beats in between (back from a pause) stays. This node's own
   * entry is never forgotten here (it is running this; its beat is due).
   */
  async live(): Promise<NodeView[]> {
    const cutoff = this.opts.clock.nowMs() - 3 * this.opts.heartbeatMs;
    const self = this.opts.info().nodeId;
    const all = Object.entries(await this.opts.redis.hgetall(this.keys.nodes));
    const views: NodeView[] = [];
    const stale: string[] = []; // field, value read, ...
    for (const [id, json] of all) {
      const view = parseView(json);
      if (view && Date.parse(view.lastSeenAt) >= cutoff) views.push(view);
      else if (id !== self) stale.push(id, json);
    }
    if (stale.length > 0) await this.opts.redis.eval(FORGET_UNCHANGED, 1, this.keys.nodes, ...stale);
    return views.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.nodeId.localeCompare(b.nodeId));
  }

  /** liveHandlers: the union of handlers offered by live nodes and by this node. */
  async liveHandlers(): Promise<Set<string>> {
    const names = new Set(this.opts.info().handlers);
    for (const node of await this.live()) node.handlers.forEach((h) => names.add(h));
    return names;
  }
}

/** FORGET_UNCHANGED: HDEL of each field (ARGV: field, value, ...) whose value is still the one given. */
const FORGET_UNCHANGED = `for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end`;

/** parseView: a stored heartbeat, or null when it is not one (an older format, garbage). */
function parseView(json: string): NodeView | null {
  try {
    const view = JSON.parse(json) as NodeView;
    return typeof view.lastSeenAt === 'string' && Array.isArray(view.handlers) ? view : null;
  } catch {
    return null;
  }
}
