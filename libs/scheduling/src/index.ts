// Public entry of @lib/scheduling: the framework-free scheduling core.
export * from './core/schedule-spec';
export * from './core/validate-schedule';
export * from './core/cron-schedule';
export * from './core/catch-up';
export * from './core/scheduling.errors';
export * from './core/scheduling.messages';
export * from './core/schedule-store';
export * from './core/enqueue-plan';
export * from './core/fenced-enqueuer';
export { jobOptions } from './core/bull-jobs';
export * from './core/leader-scheduler';
export { WRITE_AHEAD_MS, writeAheadFor, type LagReport } from './core/scheduling-run';
export { SchedulingModule } from './nest/scheduling.module';
export { SchedulingService } from './nest/scheduling.service';
export { SCHEDULING_MODULE_OPTIONS, type SchedulingModuleOptions } from './nest/scheduling.module-definition';
