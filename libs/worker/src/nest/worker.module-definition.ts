import { ConfigurableModuleBuilder, type Provider } from '@nestjs/common';
import type { BatonWorkerOptions } from '../core/baton-worker';

/**
 * WorkerModuleOptions: BatonWorker's options without registry and logger
 * (the module provides those), plus `shutdownGraceMs`: how long a stopping
 * node lets running jobs finish before abandoning them (default 10000).
 */
export interface WorkerModuleOptions extends Omit<BatonWorkerOptions, 'registry' | 'logger'> {
  shutdownGraceMs?: number;
}

/**
 * WorkerModuleExtras: `extraProviders` are added to the module, the usual way
 * to hand it the app's logger: `[{ provide: BATON_EVENT_LOGGER, useValue: logger }]`.
 */
export interface WorkerModuleExtras {
  extraProviders: Provider[];
}

export const {
  ConfigurableModuleClass: WorkerConfigurableModule,
  MODULE_OPTIONS_TOKEN: WORKER_MODULE_OPTIONS,
  OPTIONS_TYPE: WORKER_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: WORKER_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<WorkerModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras<WorkerModuleExtras>({ extraProviders: [] }, (definition, extras) => ({
    ...definition,
    providers: [...(definition.providers ?? []), ...(extras.extraProviders ?? [])],
  }))
  .build();
