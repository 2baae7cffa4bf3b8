import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { BatonWorker } from '../core/baton-worker';
import { WORKER_MODULE_OPTIONS, type WorkerModuleOptions } from './worker.module-definition';

/** DEFAULT_SHUTDOWN_GRACE_MS: grace for running jobs on shutdown when `shutdownGraceMs` is unset. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/**
 * WorkerLifecycle starts the BatonWorker once the app has booted (so every
 * `@JobHandler` is registered first) and closes it before shutdown, letting
 * running jobs finish within `shutdownGraceMs`.
 */
@Injectable()
export class WorkerLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly worker: BatonWorker,
    @Inject(WORKER_MODULE_OPTIONS) private readonly options: WorkerModuleOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.worker.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.close(this.options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
  }
}
