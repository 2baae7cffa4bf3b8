import { ConfigurableModuleBuilder, type Provider } from '@nestjs/common';
import type { Clock } from '@lib/common';
import type { Redis } from 'ioredis';

/**
 * ElectionModuleOptions: what one node needs to compete for leadership.
 * `redis` carries the lease commands and should be a connection of its own
 * (heavy API traffic must not delay renewals); `subscriber` is put into
 * subscriber mode for release broadcasts, keyspace events and resign requests.
 * Timings derive from `leaseMs` unless set (see deriveElectionTimings).
 */
export interface ElectionModuleOptions {
  redis: Redis;
  subscriber: Redis;
  prefix: string;
  identity: string;
  leaseMs: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
}

/**
 * ElectionModuleExtras: `extraProviders`, the usual way to hand the module
 * the app's BATON_EVENT_LOGGER; `isGlobal` lets leader-work modules
 * (scheduling) inject ElectionService and LeadershipListeners.
 */
export interface ElectionModuleExtras {
  extraProviders: Provider[];
  isGlobal: boolean;
}

export const {
  ConfigurableModuleClass: ElectionConfigurableModule,
  MODULE_OPTIONS_TOKEN: ELECTION_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<ElectionModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras<ElectionModuleExtras>({ extraProviders: [], isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
    providers: [...(definition.providers ?? []), ...(extras.extraProviders ?? [])],
  }))
  .build();
