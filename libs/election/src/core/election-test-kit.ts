import type { Clock, EventLogger, LogLevel } from '@lib/common';
import { InMemoryLeaseLock, type InMemoryLeaseStore } from './in-memory-lease-lock';
import { LeaderElector } from './leader-elector';
import type { LeaderElectorOptions, Leadership } from './leader-elector.types';
import type { LeaseLock } from './lease-lock';

/** LoggedEvent: one line an EventLogger received (tests). */
export interface LoggedEvent {
  level: LogLevel;
  event: string;
  msg: string;
  facts: Record<string, unknown>;
}

/** RecordingLogger keeps every event it receives (tests). */
export class RecordingLogger implements EventLogger {
  readonly events: LoggedEvent[] = [];
  log(level: LogLevel, event: string, msg: string, facts: Record<string, unknown> = {}): void {
    this.events.push({ level, event, msg, facts });
  }
  /** named: the events called `event`. */
  named(event: string): LoggedEvent[] {
    return this.events.filter((e) => e.event === event);
  }
}

/** TestNode: one elector with recorded callbacks, logs and a run() it can stop (tests). */
export interface TestNode {
  elector: LeaderElector;
  lock: LeaseLock;
  logger: RecordingLogger;
  /** calls: `started:<token>`, `stopped:<reason>`, `new:<nodeId>:<token>` in the order they happened. */
  calls: string[];
  leaderships: Leadership[];
  start(): void;
  stop(): Promise<void>;
}

/**
 * createTestNode builds an elector on `lock` (or an InMemoryLeaseLock on
 * `store`) with recording callbacks; timings default to 1000/600/250 ms and
 * jitter to its midpoint. Shared by the unit and integration tests.
 */
export function createTestNode(
  target: { lock: LeaseLock } | { store: InMemoryLeaseStore; identity: string },
  clock: Clock,
  overrides: Partial<LeaderElectorOptions> = {},
): TestNode {
  const lock = 'lock' in target ? target.lock : new InMemoryLeaseLock(target.store, target.identity);
  const logger = new RecordingLogger();
  const calls: string[] = [];
  const leaderships: Leadership[] = [];
  const elector = new LeaderElector({
    lock,
    leaseDurationMs: 1000,
    renewDeadlineMs: 600,
    retryPeriodMs: 250,
    clock,
    logger,
    random: () => 0.5,
    callbacks: {
      onStartedLeading: (l) => { leaderships.push(l); calls.push(`started:${l.token}`); },
      onStoppedLeading: (reason) => { calls.push(`stopped:${reason}`); },
      onNewLeader: (leader) => { calls.push(`new:${leader.nodeId}:${leader.token}`); },
    },
    ...overrides,
  });
  let controller: AbortController | null = null;
  let running: Promise<void> | null = null;
  return {
    elector, lock, logger, calls, leaderships,
    start() {
      controller = new AbortController();
      running = elector.run(controller.signal);
    },
    async stop() {
      controller?.abort();
      await running;
    },
  };
}
