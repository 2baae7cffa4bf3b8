import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ElectionService } from '@lib/election';
import type { NodeRegistry } from './cluster/node-registry';
import type { RedisConnections } from './redis/redis-connections';
import { NODE_REGISTRY, REDIS_CONNECTIONS } from './tokens';

/**
 * NodeLifecycle runs the graceful stop in a fixed order: hand leadership
 * over first (so a follower takes over in milliseconds), then let the worker
 * finish its jobs (app.close() runs the modules' shutdown hooks), then leave
 * the cluster view and close the connections.
 */
@Injectable()
export class NodeLifecycle implements OnApplicationBootstrap {
  constructor(
    @Inject(NODE_REGISTRY) private readonly registry: NodeRegistry,
    @Inject(REDIS_CONNECTIONS) private readonly redis: RedisConnections,
    private readonly election: ElectionService,
  ) {}

  onApplicationBootstrap(): void {
    this.registry.start();
  }

  /** stopLeadership: step 1 of a graceful stop (releases a held lease at once). */
  async stopLeadership(): Promise<void> {
    await this.election.stop();
  }

  /** leaveCluster: last step, after app.close() let the worker finish. */
  async leaveCluster(): Promise<void> {
    await this.registry.stop().catch(() => undefined);
    await this.redis.closeAll();
  }
}
