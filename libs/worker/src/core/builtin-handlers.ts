import type { EventLogger } from '@lib/common';
import type { HandlerRegistry, JobContext } from './handler-registry';
import { workerMessages } from './worker.messages';
import { HttpHandlerError, InvalidHttpPayloadError, JobTimeoutError } from './worker.errors';

/** HttpPayload: the schedule `data` the `http` handler expects. */
export interface HttpPayload {
  url: string;
  /** method: default POST. */
  method?: string;
  headers?: Record<string, string>;
  /** body: sent as `payload` inside the JSON envelope. */
  body?: unknown;
}

/** HttpJobBody: the exact JSON the `http` handler sends (DESIGN.md, "The http handler"). */
export interface HttpJobBody {
  schedule: string;
  scheduledFor: string;
  jobId: string;
  attempt: number;
  fencingToken: number;
  payload: unknown;
}

const METHODS_WITHOUT_BODY = new Set(['GET', 'HEAD']);
const EXCERPT_CHARS = 200;

/** parseHttpPayload checks the payload shape; throws InvalidHttpPayloadError naming the bad field. */
export function parseHttpPayload(payload: unknown): Required<Omit<HttpPayload, 'body'>> & { body: unknown } {
  const p = (payload ?? {}) as Record<string, unknown>;
  if (typeof p !== 'object' || Array.isArray(p)) throw new InvalidHttpPayloadError('payload');
  if (typeof p.url !== 'string' || !/^https?:\/\//i.test(p.url)) throw new InvalidHttpPayloadError('url');
  const method = p.method === undefined ? 'POST' : p.method;
  if (typeof method !== 'string' || !/^[A-Za-z]+$/.test(method)) throw new InvalidHttpPayloadError('method');
  const headers = p.headers ?? {};
  if (typeof headers !== 'object' || Array.isArray(headers)) throw new InvalidHttpPayloadError('headers');
  return { url: p.url, method: method.toUpperCase(), headers: headers as Record<string, string>, body: p.body };
}

/** httpJobBody builds the JSON envelope; an absent `data.body` becomes `payload: null`. */
export function httpJobBody(ctx: JobContext, body: unknown): HttpJobBody {
  const { schedule, scheduledFor, jobId, attempt, fencingToken } = ctx;
  return { schedule, scheduledFor, jobId, attempt, fencingToken, payload: body ?? null };
}

/** abortError turns the signal's reason into the attempt's error ('timed out after N ms' by default). */
function abortError(ctx: JobContext): Error {
  const reason: unknown = ctx.signal.reason;
  if (reason instanceof Error && reason.name !== 'AbortError' && reason.name !== 'TimeoutError') return reason;
  return new JobTimeoutError(ctx.timeoutMs);
}

/**
 * httpHandler (`http`) sends `payload.method` (default POST) to `payload.url`
 * with `Idempotency-Key: <jobId>` (it overrides a header of that name in
 * `payload.headers`) and, except for GET/HEAD, the JSON body of HttpJobBody.
 * A 2xx answer is success; any other status throws HttpHandlerError with the
 * status and a short excerpt of the answer; an aborted signal throws its
 * reason (JobTimeoutError 'timed out after N ms' on timeout).
 */
export async function httpHandler(ctx: JobContext): Promise<{ status: number }> {
  const { url, method, headers: extra, body } = parseHttpPayload(ctx.payload);
  const headers = new Headers(extra);
  headers.set('Idempotency-Key', ctx.jobId);
  const init: RequestInit = { method, headers, signal: ctx.signal };
  if (!METHODS_WITHOUT_BODY.has(method)) {
    headers.set('Content-Type', 'application/json');
    init.body = JSON.stringify(httpJobBody(ctx, body));
  }
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, init);
    text = await res.text();
  } catch (err) {
    if (ctx.signal.aborted) throw abortError(ctx);
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new HttpHandlerError(workerMessages.httpNetwork(method, url, cause));
  }
  if (res.status < 200 || res.status > 299) {
    const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, EXCERPT_CHARS);
    throw new HttpHandlerError(workerMessages.httpStatus(method, url, res.status, excerpt), res.status);
  }
  return { status: res.status };
}

/** logHandler (`log`) writes the job as event `job.log` (info) and succeeds. */
export function makeLogHandler(logger: EventLogger) {
  return function logHandler(ctx: JobContext): void {
    const { schedule, jobId, scheduledFor, attempt, fencingToken, trigger, payload } = ctx;
    logger.log('info', 'job.log', `job ${jobId} of schedule ${schedule}`, {
      schedule, jobId, scheduledFor, attempt, fencingToken, trigger, payload,
    });
  };
}

/** registerBuiltinHandlers registers `http` and `log` in `registry`. */
export function registerBuiltinHandlers(registry: HandlerRegistry, logger: EventLogger): void {
  registry.register('http', httpHandler);
  registry.register('log', makeLogHandler(logger));
}
