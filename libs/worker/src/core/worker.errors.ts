import { UnrecoverableError } from 'bullmq';
import { workerMessages } from './worker.messages';

/** InvalidHandlerNameError: `HandlerRegistry.register` got a name outside the allowed pattern. */
export class InvalidHandlerNameError extends Error {
  override name = 'InvalidHandlerNameError';
}

/** DuplicateHandlerError: a handler with this name is already registered. */
export class DuplicateHandlerError extends Error {
  override name = 'DuplicateHandlerError';
}

/**
 * UnknownHandlerError: a job names a handler this node does not offer. It is
 * a BullMQ UnrecoverableError, so the job fails at once instead of retrying.
 */
export class UnknownHandlerError extends UnrecoverableError {
  constructor(handler: string, known: string[]) {
    super(workerMessages.unknownHandler(handler, known));
    this.name = 'UnknownHandlerError';
  }
}

/** MalformedJobError: job data is not a BatonJobData; unrecoverable (retrying cannot fix it). */
export class MalformedJobError extends UnrecoverableError {
  constructor(jobId: string | undefined, field: string) {
    super(workerMessages.malformedJob(jobId, field));
    this.name = 'MalformedJobError';
  }
}

/** JobTimeoutError: the attempt ran past the job's `timeoutMs`; it is the abort reason of the job signal. */
export class JobTimeoutError extends Error {
  override name = 'JobTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(workerMessages.timedOut(timeoutMs));
  }
}

/** WorkerShutdownError: the worker was force-closed while the attempt ran; the abort reason of the job signal. */
export class WorkerShutdownError extends Error {
  override name = 'WorkerShutdownError';
  constructor() {
    super(workerMessages.shuttingDown());
  }
}

/** HttpHandlerError: the `http` handler got a non-2xx answer (`status`) or no answer (`status` undefined). */
export class HttpHandlerError extends Error {
  override name = 'HttpHandlerError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** InvalidHttpPayloadError: the `http` handler's payload lacks a usable url/method/headers; unrecoverable. */
export class InvalidHttpPayloadError extends UnrecoverableError {
  constructor(field: string) {
    super(workerMessages.httpBadPayload(field));
    this.name = 'InvalidHttpPayloadError';
  }
}
