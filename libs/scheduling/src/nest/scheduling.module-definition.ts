import { ConfigurableModuleBuilder, type Provider } from '@nestjs/common';
import type { Clock } from '@lib/common';
import type { Redis } from 'ioredis';

/**
 * SchedulingModuleOptions: `redis` serves the schedule store, manual
 * triggers and the promotion of ticks written ahead; `enqueuer` is the leader's dedicated connection for
 * its fenced writes, opened with fencedConnectionOptions and used by nothing else; `subscriber`
 * receives schedule changes. catchUpWindowMs defaults to CATCH_UP_WINDOW_MS,
 * writeAheadMs to WRITE_AHEAD_MS (see LeaderSchedulerOptions).
 */
export interface SchedulingModuleOptions {
  redis: Redis;
  enqueuer: Redis;
  subscriber: Redis;
  prefix: string;
  nodeId: string;
  catchUpWindowMs?: number;
  writeAheadMs?: number;
  clock?: Clock;
}

/** SchedulingModuleExtras: `extraProviders` (the app's BATON_EVENT_LOGGER). */
export interface SchedulingModuleExtras {
  extraProviders: Provider[];
}

export const {
  ConfigurableModuleClass: SchedulingConfigurableModule,
  MODULE_OPTIONS_TOKEN: SCHEDULING_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<SchedulingModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras<SchedulingModuleExtras>({ extraProviders: [] }, (definition, extras) => ({
    ...definition,
    providers: [...(definition.providers ?? []), ...(extras.extraProviders ?? [])],
  }))
  .build();
