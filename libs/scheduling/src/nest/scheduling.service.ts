import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { BATON_EVENT_LOGGER, batonKeys, type EventLogger } from '@lib/common';
import { ElectionService, holderValue, LeadershipListeners, type Leadership } from '@lib/election';
import { Queue } from 'bullmq';
import { FencedEnqueuer } from '../core/fenced-enqueuer';
import { LeaderScheduler } from '../core/leader-scheduler';
import type { LagReport } from '../core/scheduling-run';
import { reportQueueErrors } from './queue-errors';
import type { ScheduleSpec } from '../core/schedule-spec';
import { SCHEDULING_MODULE_OPTIONS, type SchedulingModuleOptions } from './scheduling.module-definition';

/**
 * SchedulingService runs the LeaderScheduler for every leadership this node
 * wins (it stops with the leadership's signal) and hands leadership over if
 * Redis fences the scheduler off. Manual triggers go through a queue of
 * their own, never through the leader's fenced connection.
 */
@Injectable()
export class SchedulingService implements OnModuleInit, BeforeApplicationShutdown {
  private leaderWork?: Promise<void>;
  private triggerQueue?: Queue;

  constructor(
    private readonly scheduler: LeaderScheduler,
    private readonly enqueuer: FencedEnqueuer,
    private readonly listeners: LeadershipListeners,
    private readonly election: ElectionService,
    @Inject(SCHEDULING_MODULE_OPTIONS) private readonly options: SchedulingModuleOptions,
    @Inject(BATON_EVENT_LOGGER) private readonly logger: EventLogger,
  ) {}

  onModuleInit(): void {
    this.listeners.onStartedLeading((leadership) => this.lead(leadership));
  }

  private lead(leadership: Leadership): void {
    this.leaderWork = this.scheduler.lead({
      token: leadership.token,
      leaseValue: holderValue(leadership.token, this.options.nodeId),
      signal: leadership.signal,
      isValid: () => leadership.isValid(),
    }).catch((err: Error) => {
      this.logger.log('error', 'scheduler.failed', `leader scheduling failed: ${err.message}`, { stack: err.stack });
      // Leading without scheduling helps nobody: let another node take over.
      void this.election.elector.resign();
    });
  }

  /** onLag: see LeaderScheduler.onLag (this node's leader scheduling, every term). */
  onLag(listener: (report: LagReport) => void): () => void {
    return this.scheduler.onLag(listener);
  }

  /** triggerNow enqueues a manual run of `spec` (any node may; not fenced). Returns the job id. */
  async triggerNow(spec: ScheduleSpec, nowMs: number): Promise<string> {
    if (!this.triggerQueue) {
      const keys = batonKeys(this.options.prefix);
      this.triggerQueue = new Queue(keys.queueName, { connection: this.options.redis, prefix: keys.tag });
      reportQueueErrors(this.triggerQueue, this.logger, 'trigger');
    }
    return FencedEnqueuer.triggerNow(this.triggerQueue, spec, nowMs);
  }

  /** beforeApplicationShutdown: end leadership first (idempotent), then let the scheduler settle. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.election.stop();
    await this.leaderWork;
    await this.enqueuer.close().catch(() => undefined);
    await this.triggerQueue?.close().catch(() => undefined);
  }
}
