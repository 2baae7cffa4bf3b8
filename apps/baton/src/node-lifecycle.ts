import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { EventLogger } from '@lib/common';
import type { NodeRegistry } from './cluster/node-registry';
import type { BatonConfig } from './config/baton-config';
import { LeadershipService } from './leadership/leadership.service';
import type { RedisConnections } from './redis/redis-connections';
import { BATON_CONFIG, EVENT_LOGGER, NODE_REGISTRY, REDIS_CONNECTIONS } from './tokens';

/**
 * NodeLifecycle starts the node's background parts once the app is up and
 * runs the graceful stop in a fixed order: hand leadership over first (so a
 * follower takes over in milliseconds), then let the worker finish its jobs
 * (app.close() runs the worker's shutdown hook), then leave the cluster view.
 */
@Injectable()
export class NodeLifecycle implements OnApplicationBootstrap {
  constructor(
    @Inject(BATON_CONFIG) private readonly config: BatonConfig,
    @Inject(EVENT_LOGGER) private readonly logger: EventLogger,
    @Inject(NODE_REGISTRY) private readonly registry: NodeRegistry,
    @Inject(REDIS_CONNECTIONS) private readonly redis: RedisConnections,
    private readonly leadership: LeadershipService,
  ) {}

  onApplicationBootstrap(): void {
    this.registry.start();
    this.leadership.start();
  }

  /** stopLeadership: step 1 of a graceful stop (releases the lease at once). */
  async stopLeadership(): Promise<void> {
    await this.leadership.stop();
  }

  /** leaveCluster: last step, after the worker has closed. */
  async leaveCluster(): Promise<void> {
    await this.registry.stop().catch(() => undefined);
    await this.redis.closeAll();
  }

  describe(): Record<string, unknown> {
    const { port, host, prefix, leaseMs, workerConcurrency } = this.config;
    return { port, host, prefix, leaseMs, workerConcurrency };
  }
}
