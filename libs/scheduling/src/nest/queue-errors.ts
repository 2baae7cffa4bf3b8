import type { EventLogger } from '@lib/common';
import type { Queue } from 'bullmq';

/**
 * reportQueueErrors: a bullmq Queue without an 'error' listener prints raw
 * stack traces, which breaks one-JSON-object-per-line logs. Log one
 * `redis.error` line instead, at most every 30 s while the outage lasts.
 */
export function reportQueueErrors(queue: Queue, logger: EventLogger, role: string): void {
  let lastReportMs = 0;
  queue.on('error', (err: Error) => {
    const now = Date.now();
    if (now - lastReportMs < 30_000) return;
    lastReportMs = now;
    logger.log('warn', 'redis.error', `queue connection (${role}) failed: ${err.message}`, { role });
  });
}
