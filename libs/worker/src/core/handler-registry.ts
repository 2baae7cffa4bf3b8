import { workerMessages } from './worker.messages';
import { DuplicateHandlerError, InvalidHandlerNameError } from './worker.errors';

/**
 * JobContext is what a handler gets for one attempt of one job.
 * `signal` aborts when the attempt reaches `timeoutMs` (reason: JobTimeoutError)
 * or when the worker is force-closed (reason: WorkerShutdownError); a handler
 * should stop its work then. The attempt fails on time even if it does not.
 */
export interface JobContext {
  /** jobId: the BullMQ job id; also the idempotency key receivers dedupe on. */
  jobId: string;
  /** schedule: the schedule's name. */
  schedule: string;
  /** scheduledFor: the instant this job stands for, ISO 8601 UTC. */
  scheduledFor: string;
  /** attempt: 1 for the first try, 2 for the first retry, ... */
  attempt: number;
  /** fencingToken: the leadership term that enqueued the job (0 for a manual trigger). */
  fencingToken: number;
  /** payload: the schedule's `data`, as stored. */
  payload: unknown;
  /** signal: aborts at `timeoutMs` or on forced shutdown. */
  signal: AbortSignal;
  /** trigger: `cron` or `manual`. */
  trigger: 'cron' | 'manual';
  /** timeoutMs: this attempt's time limit in ms (0 = none). */
  timeoutMs: number;
}

/** JobHandlerFn: runs one attempt; resolving is success, throwing (or rejecting) is a failed attempt. */
export type JobHandlerFn = (ctx: JobContext) => Promise<unknown> | unknown;

/** HANDLER_NAME: 1-64 of letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const HANDLER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * HandlerRegistry maps handler names (`http`, `log`, app handlers) to
 * functions. Every node fills it at start-up; `names()` is what the node
 * advertises, so schedules naming other handlers can be rejected.
 */
export class HandlerRegistry {
  private readonly handlers = new Map<string, JobHandlerFn>();

  /** register adds `fn` under `name`; throws InvalidHandlerNameError or DuplicateHandlerError. */
  register(name: string, fn: JobHandlerFn): void {
    if (typeof name !== 'string' || !HANDLER_NAME.test(name)) {
      throw new InvalidHandlerNameError(workerMessages.badHandlerName(name));
    }
    if (typeof fn !== 'function') throw new TypeError(workerMessages.notAFunction(name));
    if (this.handlers.has(name)) throw new DuplicateHandlerError(workerMessages.duplicateHandler(name));
    this.handlers.set(name, fn);
  }

  /** get returns the handler named `name`, or undefined. */
  get(name: string): JobHandlerFn | undefined {
    return this.handlers.get(name);
  }

  /** has tells whether `name` is registered. */
  has(name: string): boolean {
    return this.handlers.has(name);
  }

  /** names lists the registered handler names, sorted. */
  names(): string[] {
    return [...this.handlers.keys()].sort();
  }
}
