import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { HandlerRegistry, type JobHandlerFn } from '../core/handler-registry';
import { JobHandler } from './job-handler.decorator';

/**
 * HandlerExplorer walks every provider at `onModuleInit` and registers each
 * `@JobHandler(name)` method, bound to its instance, in the HandlerRegistry.
 * A duplicate, invalid or missing name fails the app's start-up with the
 * registry's error. Request-scoped providers are skipped (no instance yet).
 */
@Injectable()
export class HandlerExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: HandlerRegistry,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      for (const method of this.scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
        const name: unknown = this.discovery.getMetadataByDecorator(JobHandler, wrapper, method);
        if (name === undefined) continue;
        const fn = (instance[method] as JobHandlerFn).bind(instance);
        this.registry.register(name as string, fn); // `@JobHandler()` without a name is rejected here
      }
    }
  }
}
