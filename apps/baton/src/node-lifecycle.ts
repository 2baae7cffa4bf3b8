import { Inject, Injectable, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { ElectionService, LeadershipListeners } from '@lib/election';
import { SchedulingService } from '@lib/scheduling';
import { BatonWorker } from '@lib/worker';
import { BATON_EVENT_LOGGER, type Clock, type EventLogger } from '@lib/common';
import { LeaderWorkerYield } from './cluster/leader-worker-yield';
import type { NodeRegistry } from './cluster/node-registry';
import type { BatonConfig } from './config/baton-config';
import type { RedisConnections } from './redis/redis-connections';
import { BATON_CONFIG, CLOCK, NODE_REGISTRY, REDIS_CONNECTIONS } from './tokens';

/**
 * NodeLifecycle runs the graceful stop in a fixed order: hand leadership
 * over first (so a follower takes over in milliseconds), then let the worker
 * finish its jobs (app.close() runs the modules' shutdown hooks), then leave
 * the cluster view and close the connections. While this node leads, its
 * worker also sweeps the queue for stalled jobs (followers never look), and
 * yields jobs to the other nodes while its ticks are late (LeaderWorkerYield).
 */
@Injectable()
export class NodeLifecycle implements OnModuleInit, OnApplicationBootstrap {
  private readonly yielder?: LeaderWorkerYield;

  constructor(
    @Inject(NODE_REGISTRY) private readonly registry: NodeRegistry,
    @Inject(REDIS_CONNECTIONS) private readonly redis: RedisConnections,
    private readonly election: ElectionService,
    private readonly leadership: LeadershipListeners,
    private readonly worker: BatonWorker,
    @Inject(BATON_EVENT_LOGGER) private readonly logger: EventLogger,
    private readonly scheduling: SchedulingService,
    @Inject(BATON_CONFIG) config: BatonConfig,
    @Inject(CLOCK) clock: Clock,
  ) {
    if (config.leaderYieldLagMs > 0) {
      this.yielder = new LeaderWorkerYield({
        worker, maxConcurrency: config.workerConcurrency, lateMs: config.leaderYieldLagMs, clock, logger,
        peers: async () => (await registry.live()).filter((n) => n.nodeId !== config.nodeId).length,
        peersMaxAgeMs: config.heartbeatMs,
      });
    }
  }

  onModuleInit(): void {
    this.leadership.onStartedLeading((term) => {
      this.worker.sweepStalled(term.signal).catch((err: Error) => this.logger.log('error', 'worker.error',
        `could not sweep for stalled jobs: ${err.message}`, { error: err.message }));
      this.yielder?.follow(term.signal, (listener) => this.scheduling.onLag(listener));
    });
  }

  onApplicationBootstrap(): void {
    this.registry.start();
  }

  /** stopLeadership: step 1 of a graceful stop (releases a held lease at once; a yielding worker stays as it is until it closes). */
  async stopLeadership(): Promise<void> {
    this.yielder?.stop();
    await this.election.stop();
  }

  /** leaveCluster: last step, after app.close() let the worker finish. */
  async leaveCluster(): Promise<void> {
    await this.registry.stop().catch(() => undefined);
    await this.redis.closeAll();
  }
}
