import { ConflictException, Inject, Injectable } from '@nestjs/common';
import { batonKeys, type Clock, type EventLogger } from '@lib/common';
import {
  deriveElectionTimings, holderValue, LeaderElector, readLeader, RedisLeaseLock, type Leadership,
} from '@lib/election';
import { FencedEnqueuer, LeaderScheduler, type ScheduleSpec, type ScheduleStore } from '@lib/scheduling';
import { Queue } from 'bullmq';
import type { BatonConfig } from '../config/baton-config';
import type { RedisConnections } from '../redis/redis-connections';
import { BATON_CONFIG, EVENT_LOGGER, REDIS_CONNECTIONS, SCHEDULE_STORE } from '../tokens';

/**
 * LeadershipService is the glue between the election and the leader's
 * scheduling: while this node leads, LeaderScheduler arms the cron tasks;
 * the moment the leadership's signal aborts, they are gone. It also carries
 * resign requests from any node's API to the leader (pub/sub control channel).
 */
@Injectable()
export class LeadershipService {
  private readonly keys;
  private elector?: LeaderElector;
  private lock?: RedisLeaseLock;
  private scheduler?: LeaderScheduler;
  private enqueuer?: FencedEnqueuer;
  private triggerQueue?: Queue;
  private readonly abort = new AbortController();
  private running?: Promise<void>;
  private leaderWork?: Promise<void>;

  constructor(
    @Inject(BATON_CONFIG) private readonly config: BatonConfig,
    @Inject(REDIS_CONNECTIONS) private readonly redis: RedisConnections,
    @Inject(EVENT_LOGGER) private readonly logger: EventLogger,
    @Inject(SCHEDULE_STORE) private readonly store: ScheduleStore,
    @Inject('CLOCK') private readonly clock: Clock,
  ) {
    this.keys = batonKeys(config.prefix);
  }

  /** start joins the election (idempotent). */
  start(): void {
    if (this.running) return;
    const { config } = this;
    const enqueuerConn = this.redis.get('enqueuer');
    const queue = new Queue(this.keys.queueName, { connection: enqueuerConn, prefix: this.keys.tag });
    this.enqueuer = new FencedEnqueuer({ redis: enqueuerConn, queue, prefix: config.prefix });
    this.scheduler = new LeaderScheduler({
      store: this.store, enqueuer: this.enqueuer, clock: this.clock, logger: this.logger,
      catchUpWindowMs: config.catchUpWindowMs, subscriber: this.redis.get('schedules-sub'), nodeId: config.nodeId,
      // The scheduler saw Redis refuse our lease: hand leadership over rather than lead without scheduling.
      onFencedOff: () => void this.elector?.resign(),
    });
    this.lock = new RedisLeaseLock({
      redis: this.redis.get('election'), subscriber: this.redis.get('election-sub'), prefix: config.prefix, identity: config.nodeId,
    });
    const timings = deriveElectionTimings({ leaseMs: config.leaseMs, renewDeadlineMs: config.renewDeadlineMs, retryPeriodMs: config.retryPeriodMs });
    this.elector = new LeaderElector({
      lock: this.lock, ...timings, clock: this.clock, logger: this.logger,
      callbacks: {
        onStartedLeading: (leadership) => this.lead(leadership),
        onStoppedLeading: () => undefined,
      },
    });
    this.listenForResign();
    this.running = this.elector.run(this.abort.signal).catch((err: Error) => {
      this.logger.log('error', 'election.failed', `election loop ended: ${err.message}`, { stack: err.stack });
    });
  }

  private lead(leadership: Leadership): void {
    const lease = { token: leadership.token, leaseValue: holderValue(leadership.token, this.config.nodeId),
      signal: leadership.signal, isValid: () => leadership.isValid() };
    this.leaderWork = this.scheduler!.lead(lease).catch((err: Error) => {
      this.logger.log('error', 'scheduler.failed', `leader scheduling failed: ${err.message}`, { stack: err.stack });
    });
  }

  private listenForResign(): void {
    const sub = this.redis.get('election-sub');
    void sub.subscribe(this.keys.controlChannel).catch(() => undefined);
    sub.on('message', (channel: string, message: string) => {
      if (channel !== this.keys.controlChannel) return;
      try {
        const cmd = JSON.parse(message) as { op?: string; nodeId?: string };
        if (cmd.op === 'resign' && cmd.nodeId === this.config.nodeId && this.elector?.isLeader()) void this.elector.resign();
      } catch { /* not ours */ }
    });
  }

  /** stop: leave the election; a leader releases its lease at once (graceful handover). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    await this.leaderWork;
    await this.lock?.close().catch(() => undefined);
    await this.enqueuer?.close?.().catch(() => undefined);
    await this.triggerQueue?.close().catch(() => undefined);
  }

  /** isLeader: this node leads right now (synchronous, deadline-checked). */
  isLeader(): boolean {
    return this.elector?.isLeader() ?? false;
  }

  /** currentLeader: the cluster's leader as Redis records it, or null. */
  async currentLeader() {
    return readLeader(this.redis.get('commands'), this.config.prefix);
  }

  /**
   * requestResign asks the current leader to step down and waits (up to one
   * lease) until the lease changes hands. 409 when nobody leads.
   */
  async requestResign() {
    const before = await this.currentLeader();
    if (!before) throw new ConflictException('no node leads right now; nothing to resign');
    if (before.nodeId === this.config.nodeId && this.elector?.isLeader()) {
      await this.elector.resign();
    } else {
      await this.redis.get('commands').publish(this.keys.controlChannel, JSON.stringify({ op: 'resign', nodeId: before.nodeId, term: before.term }));
    }
    const deadline = Date.now() + this.config.leaseMs;
    let after = await this.currentLeader();
    while (after && after.term === before.term && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      after = await this.currentLeader();
    }
    return { resigned: { nodeId: before.nodeId, term: before.term }, leader: after && after.term !== before.term ? after : null };
  }

  /** triggerNow enqueues a manual run of `spec` (any node may do it; not fenced). */
  async triggerNow(spec: ScheduleSpec, nowMs: number): Promise<string> {
    if (!this.triggerQueue) {
      this.triggerQueue = new Queue(this.keys.queueName, { connection: this.redis.get('worker'), prefix: this.keys.tag });
    }
    return FencedEnqueuer.triggerNow(this.triggerQueue, spec, nowMs);
  }

  /** healthState: for /health/ready — down when we think we lead but the renew deadline passed. */
  healthState(): { ok: boolean; role: string } {
    if (!this.elector) return { ok: false, role: 'starting' };
    return { ok: true, role: this.elector.isLeader() ? 'leader' : 'follower' };
  }
}
