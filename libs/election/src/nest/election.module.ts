import { Module } from '@nestjs/common';
import { BATON_EVENT_LOGGER, systemClock, type EventLogger } from '@lib/common';
import { deriveElectionTimings } from '../core/election-timings';
import { LeaderElector } from '../core/leader-elector';
import { RedisLeaseLock } from '../core/redis-lease-lock';
import { ElectionConfigurableModule, ELECTION_MODULE_OPTIONS, type ElectionModuleOptions } from './election.module-definition';
import { ElectionService } from './election.service';
import { LeadershipListeners } from './leadership.listeners';

/**
 * ElectionModule makes this node a candidate for leadership:
 * `ElectionModule.forRootAsync({ useFactory, inject, extraProviders })` with
 * ElectionModuleOptions; the app provides BATON_EVENT_LOGGER. Leader work
 * subscribes through LeadershipListeners; ElectionService starts the
 * election at bootstrap and hands leadership over on stop().
 */
@Module({
  providers: [
    LeadershipListeners,
    {
      provide: RedisLeaseLock,
      inject: [ELECTION_MODULE_OPTIONS],
      useFactory: (o: ElectionModuleOptions) =>
        new RedisLeaseLock({ redis: o.redis, subscriber: o.subscriber, prefix: o.prefix, identity: o.identity }),
    },
    {
      provide: LeaderElector,
      inject: [ELECTION_MODULE_OPTIONS, RedisLeaseLock, LeadershipListeners, BATON_EVENT_LOGGER],
      useFactory: (o: ElectionModuleOptions, lock: RedisLeaseLock, listeners: LeadershipListeners, logger: EventLogger) =>
        new LeaderElector({
          lock,
          ...deriveElectionTimings({ leaseMs: o.leaseMs, renewDeadlineMs: o.renewDeadlineMs, retryPeriodMs: o.retryPeriodMs }),
          clock: o.clock ?? systemClock,
          logger,
          callbacks: { onStartedLeading: (l) => listeners.emit(l), onStoppedLeading: () => undefined },
        }),
    },
    ElectionService,
  ],
  exports: [ElectionService, LeadershipListeners, LeaderElector],
})
export class ElectionModule extends ElectionConfigurableModule {}
