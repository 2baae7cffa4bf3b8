import { DiscoveryService } from '@nestjs/core';

/**
 * JobHandler marks a provider method as the handler `name`:
 * `@JobHandler('send-report') async send(ctx: JobContext) { ... }`.
 * HandlerExplorer registers it (bound to its instance) at module init; the
 * name must be unique on the node and match HANDLER_NAME.
 */
export const JobHandler = DiscoveryService.createDecorator<string>();
