import { DynamicModule, Global, Module } from '@nestjs/common';
import { BATON_EVENT_LOGGER, systemClock, type EventLogger } from '@lib/common';
import type { BatonConfig } from './config/baton-config';
import { RedisConnections } from './redis/redis-connections';
import { BATON_CONFIG, CLOCK, REDIS_CONNECTIONS } from './tokens';

/** CoreModule (global): the node's config, logger, clock and Redis connections, for every other module. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: BatonConfig, logger: EventLogger): DynamicModule {
    const providers = [
      { provide: BATON_CONFIG, useValue: config },
      { provide: BATON_EVENT_LOGGER, useValue: logger },
      { provide: CLOCK, useValue: systemClock },
      {
        provide: REDIS_CONNECTIONS,
        useFactory: () => new RedisConnections(config.redisUrl, (role, err) =>
          logger.log('warn', 'redis.error', `Redis connection "${role}" failed: ${err.message}`, { role })),
      },
    ];
    return { module: CoreModule, providers, exports: providers.map((p) => p.provide) };
  }
}
