import { Module } from '@nestjs/common';
import { BATON_EVENT_LOGGER, batonKeys, systemClock, type EventLogger } from '@lib/common';
import { ElectionService } from '@lib/election';
import { Queue } from 'bullmq';
import { FencedEnqueuer } from '../core/fenced-enqueuer';
import { LeaderScheduler } from '../core/leader-scheduler';
import { ScheduleStore } from '../core/schedule-store';
import { SCHEDULING_MODULE_OPTIONS, SchedulingConfigurableModule, type SchedulingModuleOptions } from './scheduling.module-definition';
import { reportQueueErrors } from './queue-errors';
import { SchedulingService } from './scheduling.service';

/**
 * SchedulingModule: the schedule store for the API, and the leader's
 * scheduling, run for each leadership won through ElectionModule (which must
 * be registered with `isGlobal: true`). Exports ScheduleStore and
 * SchedulingService (manual triggers).
 */
@Module({
  providers: [
    {
      provide: ScheduleStore,
      inject: [SCHEDULING_MODULE_OPTIONS],
      useFactory: (o: SchedulingModuleOptions) => new ScheduleStore({ redis: o.redis, prefix: o.prefix, clock: o.clock ?? systemClock }),
    },
    {
      provide: FencedEnqueuer,
      inject: [SCHEDULING_MODULE_OPTIONS, BATON_EVENT_LOGGER],
      useFactory: (o: SchedulingModuleOptions, logger: EventLogger) => {
        const keys = batonKeys(o.prefix);
        const queue = new Queue(keys.queueName, { connection: o.enqueuer, prefix: keys.tag });
        reportQueueErrors(queue, logger, 'enqueuer');
        return new FencedEnqueuer({ redis: o.enqueuer, queue, prefix: o.prefix, clock: o.clock ?? systemClock, promoter: o.redis });
      },
    },
    {
      provide: LeaderScheduler,
      inject: [SCHEDULING_MODULE_OPTIONS, ScheduleStore, FencedEnqueuer, ElectionService, BATON_EVENT_LOGGER],
      useFactory: (o: SchedulingModuleOptions, store: ScheduleStore, enqueuer: FencedEnqueuer, election: ElectionService, logger: EventLogger) =>
        new LeaderScheduler({
          store, enqueuer, logger, clock: o.clock ?? systemClock, catchUpWindowMs: o.catchUpWindowMs,
          writeAheadMs: o.writeAheadMs, subscriber: o.subscriber, nodeId: o.nodeId,
          // Redis refused our lease: hand leadership over rather than lead without scheduling.
          onFencedOff: () => void election.elector.resign(),
        }),
    },
    SchedulingService,
  ],
  exports: [ScheduleStore, SchedulingService],
})
export class SchedulingModule extends SchedulingConfigurableModule {}
