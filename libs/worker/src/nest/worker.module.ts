import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { EventLogger } from '@lib/common';
import { BatonWorker } from '../core/baton-worker';
import { registerBuiltinHandlers } from '../core/builtin-handlers';
import { HandlerRegistry } from '../core/handler-registry';
import { RunHistory } from '../core/run-history';
import { HandlerExplorer } from './handler.explorer';
import { WorkerLifecycle } from './worker.lifecycle';
import { WORKER_MODULE_OPTIONS, WorkerConfigurableModule, type WorkerModuleOptions } from './worker.module-definition';
import { BATON_EVENT_LOGGER } from './worker.tokens';

/**
 * WorkerModule makes this node a worker: `WorkerModule.forRoot(options)` or
 * `forRootAsync({ useFactory, inject, imports, extraProviders })` with
 * WorkerModuleOptions. The app must provide an EventLogger under
 * BATON_EVENT_LOGGER (via `extraProviders` or a global module). Exports
 * HandlerRegistry (built-ins `http` and `log` plus every `@JobHandler`;
 * its `names()` is what the node offers), BatonWorker and RunHistory.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: HandlerRegistry,
      inject: [BATON_EVENT_LOGGER],
      useFactory: (logger: EventLogger) => {
        const registry = new HandlerRegistry();
        registerBuiltinHandlers(registry, logger);
        return registry;
      },
    },
    {
      provide: BatonWorker,
      inject: [WORKER_MODULE_OPTIONS, HandlerRegistry, BATON_EVENT_LOGGER],
      useFactory: (options: WorkerModuleOptions, registry: HandlerRegistry, logger: EventLogger) => {
        const { shutdownGraceMs: _grace, ...workerOptions } = options;
        return new BatonWorker({ ...workerOptions, registry, logger });
      },
    },
    { provide: RunHistory, inject: [BatonWorker], useFactory: (worker: BatonWorker) => worker.history },
    HandlerExplorer,
    WorkerLifecycle,
  ],
  exports: [HandlerRegistry, BatonWorker, RunHistory],
})
export class WorkerModule extends WorkerConfigurableModule {}
