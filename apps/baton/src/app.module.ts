import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { systemClock, type EventLogger } from '@lib/common';
import { ElectionModule } from '@lib/election';
import { SchedulingModule, writeAheadFor } from '@lib/scheduling';
import { HandlerRegistry, WorkerModule } from '@lib/worker';
import { hostname } from 'node:os';
import { ClusterController } from './api/cluster.controller';
import { SchedulesController } from './api/schedules.controller';
import { NodeRegistry } from './cluster/node-registry';
import type { BatonConfig } from './config/baton-config';
import { CoreModule } from './core.module';
import { HealthController } from './health/health.controller';
import { NodeLifecycle } from './node-lifecycle';
import type { RedisConnections } from './redis/redis-connections';
import { NODE_REGISTRY, REDIS_CONNECTIONS } from './tokens';

/**
 * AppModule wires one Baton node from a validated config and a logger:
 * election (ElectionModule), the leader's scheduling and the schedule store
 * (SchedulingModule), the worker (WorkerModule), the node registry and the
 * admin API. Each role gets its own Redis connection (RedisConnections).
 */
@Module({})
export class AppModule {
  static forRoot(opts: { config: BatonConfig; logger: EventLogger }): DynamicModule {
    const { config, logger } = opts;
    const startedAt = new Date().toISOString();
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, logger),
        TerminusModule.forRoot({ logger: false }),
        ElectionModule.forRootAsync({
          isGlobal: true,
          inject: [REDIS_CONNECTIONS],
          useFactory: (r: RedisConnections) => ({
            redis: r.get('election'), subscriber: r.get('election-sub'), prefix: config.prefix, identity: config.nodeId,
            leaseMs: config.leaseMs, renewDeadlineMs: config.renewDeadlineMs, retryPeriodMs: config.retryPeriodMs,
          }),
        }),
        SchedulingModule.forRootAsync({
          inject: [REDIS_CONNECTIONS],
          useFactory: (r: RedisConnections) => ({
            redis: r.get('commands'), enqueuer: r.get('enqueuer'), subscriber: r.get('schedules-sub'),
            prefix: config.prefix, nodeId: config.nodeId, catchUpWindowMs: config.catchUpWindowMs,
            // Ticks are in Redis over a lease before their instant: they fire on time through a crash failover.
            writeAheadMs: writeAheadFor(config.leaseMs),
          }),
        }),
        WorkerModule.forRootAsync({
          useFactory: () => ({
            connection: config.redisUrl, prefix: config.prefix, nodeId: config.nodeId,
            concurrency: config.workerConcurrency, lockDurationMs: config.jobLockMs, shutdownGraceMs: config.shutdownGraceMs,
            // A dead worker's job is picked up at most lock + interval after its last lock renewal. Only the
            // leader looks (NodeLifecycle): BullMQ lets one worker per interval do it anyway, and the others'
            // attempts were most of an idle follower's Redis commands.
            stalledIntervalMs: Math.max(500, Math.floor(config.jobLockMs / 2)),
            stalledCheck: 'on-demand',
          }),
        }),
      ],
      controllers: [SchedulesController, ClusterController, HealthController],
      providers: [
        {
          provide: NODE_REGISTRY,
          inject: [REDIS_CONNECTIONS, HandlerRegistry],
          useFactory: (r: RedisConnections, handlers: HandlerRegistry) => new NodeRegistry({
            redis: r.get('commands'), prefix: config.prefix, clock: systemClock, heartbeatMs: config.heartbeatMs,
            info: () => ({ nodeId: config.nodeId, host: hostname(), pid: process.pid, version: config.version, startedAt,
              handlers: handlers.names() }),
          }),
        },
        NodeLifecycle,
      ],
    };
  }
}
