import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { systemClock, type EventLogger } from '@lib/common';
import { FencedEnqueuer, ScheduleStore } from '@lib/scheduling';
import { BATON_EVENT_LOGGER, HandlerRegistry, RunHistory, WorkerModule } from '@lib/worker';
import { hostname } from 'node:os';
import { ClusterController } from './api/cluster.controller';
import { SchedulesController } from './api/schedules.controller';
import { NodeRegistry } from './cluster/node-registry';
import type { BatonConfig } from './config/baton-config';
import { HealthController } from './health/health.controller';
import { LeadershipService } from './leadership/leadership.service';
import { NodeLifecycle } from './node-lifecycle';
import { RedisConnections } from './redis/redis-connections';
import {
  BATON_CONFIG, EVENT_LOGGER, MANUAL_TRIGGER, NODE_REGISTRY, REDIS_CONNECTIONS, RUN_HISTORY, SCHEDULE_STORE,
} from './tokens';

/**
 * AppModule wires one Baton node from a validated config and a logger:
 * Redis connections, the schedule store, the node registry, leadership
 * (election + leader scheduling), the worker, and the admin API.
 */
@Module({})
export class AppModule {
  static forRoot(opts: { config: BatonConfig; logger: EventLogger }): DynamicModule {
    const { config, logger } = opts;
    const startedAt = new Date().toISOString();
    return {
      module: AppModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        WorkerModule.forRootAsync({
          useFactory: () => ({
            connection: config.redisUrl,
            prefix: config.prefix,
            nodeId: config.nodeId,
            concurrency: config.workerConcurrency,
            lockDurationMs: config.jobLockMs,
            shutdownGraceMs: config.shutdownGraceMs,
          }),
          extraProviders: [{ provide: BATON_EVENT_LOGGER, useValue: logger }],
        }),
      ],
      controllers: [SchedulesController, ClusterController, HealthController],
      providers: [
        { provide: BATON_CONFIG, useValue: config },
        { provide: EVENT_LOGGER, useValue: logger },
        { provide: 'CLOCK', useValue: systemClock },
        {
          provide: REDIS_CONNECTIONS,
          useFactory: () => new RedisConnections(config.redisUrl, (role, err) =>
            logger.log('warn', 'redis.error', `Redis connection "${role}" failed: ${err.message}`, { role })),
        },
        {
          provide: SCHEDULE_STORE,
          inject: [REDIS_CONNECTIONS],
          useFactory: (r: RedisConnections) => new ScheduleStore({ redis: r.get('commands'), prefix: config.prefix, clock: systemClock }),
        },
        {
          provide: NODE_REGISTRY,
          inject: [REDIS_CONNECTIONS, HandlerRegistry],
          useFactory: (r: RedisConnections, handlers: HandlerRegistry) => new NodeRegistry({
            redis: r.get('commands'), prefix: config.prefix, clock: systemClock, heartbeatMs: config.heartbeatMs,
            info: () => ({ nodeId: config.nodeId, host: hostname(), pid: process.pid, version: config.version, startedAt,
              handlers: handlers.names() }),
          }),
        },
        { provide: RUN_HISTORY, useExisting: RunHistory },
        {
          provide: MANUAL_TRIGGER,
          inject: [LeadershipService],
          useFactory: (l: LeadershipService) => ({ triggerNow: l.triggerNow.bind(l) }),
        },
        LeadershipService,
        NodeLifecycle,
      ],
    };
  }
}
