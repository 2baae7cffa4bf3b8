import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { BATON_EVENT_LOGGER, batonKeys, type EventLogger } from '@lib/common';
import { LeaderElector } from '../core/leader-elector';
import { readLeader } from '../core/read-leader';
import { RedisLeaseLock } from '../core/redis-lease-lock';
import { ELECTION_MODULE_OPTIONS, type ElectionModuleOptions } from './election.module-definition';

/**
 * ElectionService runs this node's LeaderElector from application bootstrap
 * until stop() (or shutdown): a leader then releases its lease at once, so a
 * follower takes over in milliseconds. It also carries resign requests from
 * any node's API to the leader over the control channel.
 */
@Injectable()
export class ElectionService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly abort = new AbortController();
  private readonly controlChannel: string;
  private running?: Promise<void>;

  constructor(
    readonly elector: LeaderElector,
    private readonly lock: RedisLeaseLock,
    @Inject(ELECTION_MODULE_OPTIONS) private readonly options: ElectionModuleOptions,
    @Inject(BATON_EVENT_LOGGER) private readonly logger: EventLogger,
  ) {
    this.controlChannel = batonKeys(options.prefix).controlChannel;
  }

  onApplicationBootstrap(): void {
    this.listenForResign();
    this.running = this.elector.run(this.abort.signal).catch((err: Error) =>
      this.logger.log('error', 'election.failed', `election loop ended: ${err.message}`, { stack: err.stack }));
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** stop leaves the election (idempotent); resolves once a held lease was released. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    await this.lock.close().catch(() => undefined);
  }

  /** isLeader: synchronous and deadline-checked (see LeaderElector.isLeader). */
  isLeader(): boolean {
    return this.elector.isLeader();
  }

  /** currentLeader: the leader as Redis records it ({nodeId, term, since, leaseRemainingMs}) or null. */
  currentLeader() {
    return readLeader(this.options.redis, this.options.prefix);
  }

  /**
   * requestResign makes the current leader step down: directly when that is
   * us, else through the control channel. Resolves with the leader before and
   * the one after (waiting up to one lease for the change), or null before
   * when nobody leads.
   */
  async requestResign() {
    const before = await this.currentLeader();
    if (!before) return { resigned: null, leader: null };
    if (before.nodeId === this.options.identity && this.elector.isLeader()) await this.elector.resign();
    else await this.options.redis.publish(this.controlChannel, JSON.stringify({ op: 'resign', nodeId: before.nodeId, term: before.term }));
    const deadline = Date.now() + this.options.leaseMs;
    let after = await this.currentLeader();
    while ((!after || after.term === before.term) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      after = await this.currentLeader();
    }
    return { resigned: { nodeId: before.nodeId, term: before.term }, leader: after && after.term !== before.term ? after : null };
  }

  private listenForResign(): void {
    const sub = this.options.subscriber;
    sub.subscribe(this.controlChannel).catch(() => undefined);
    sub.on('message', (channel: string, message: string) => {
      if (channel !== this.controlChannel) return;
      let cmd: { op?: string; nodeId?: string; term?: number };
      try { cmd = JSON.parse(message); } catch { return; }
      const mine = this.elector.leadership();
      if (cmd.op === 'resign' && cmd.nodeId === this.options.identity && mine && mine.token === cmd.term) {
        void this.elector.resign();
      }
    });
  }
}
