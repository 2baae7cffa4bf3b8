/** HttpMethod: the methods the `http` handler sends. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

/** BackoffType: BullMQ's built-in backoff strategies. */
export type BackoffType = 'fixed' | 'exponential';

/** OverlapPolicy: `skip` drops a tick while the previous run is still queued or running. */
export type OverlapPolicy = 'allow' | 'skip';

/** MisfirePolicy: which ticks missed while no leader was alive are enqueued late. */
export type MisfirePolicy = 'all' | 'latest' | 'none';

/** ScheduleBackoff: retry delay between attempts (`delayMs` in ms). */
export interface ScheduleBackoff {
  type: BackoffType;
  delayMs: number;
}

/** HttpScheduleData: the normalized `data` of an `http` schedule. */
export interface HttpScheduleData {
  url: string;
  method: HttpMethod;
  headers: Record<string, string>;
  body?: unknown;
}

/**
 * ScheduleSpec is one schedule as stored in Redis and served by the API: the
 * contract's fields with every default filled in, plus `createdAt` /
 * `updatedAt` (ISO 8601). `data` is absent when the input had none.
 */
export interface ScheduleSpec {
  name: string;
  cron: string;
  timezone: string;
  handler: string;
  data?: Record<string, unknown>;
  attempts: number;
  backoff: ScheduleBackoff;
  timeoutMs: number;
  overlap: OverlapPolicy;
  misfire: MisfirePolicy;
  paused: boolean;
  createdAt: string;
  updatedAt: string;
}

/**
 * SCHEDULE_LIMITS: the bounds validateScheduleInput enforces (for docs and
 * OpenAPI). Sizes in bytes, times in ms.
 */
export const SCHEDULE_LIMITS = {
  nameMaxLength: 64,
  namePattern: '^[a-z0-9][a-z0-9._-]{0,63}$',
  dataMaxBytes: 64 * 1024,
  dataMaxDepth: 32,
  attempts: { min: 1, max: 20 },
  backoffDelayMs: { min: 0, max: 3_600_000 },
  timeoutMs: { min: 100, max: 3_600_000 },
  httpMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as readonly HttpMethod[],
  backoffTypes: ['fixed', 'exponential'] as readonly BackoffType[],
  overlapPolicies: ['allow', 'skip'] as readonly OverlapPolicy[],
  misfirePolicies: ['all', 'latest', 'none'] as readonly MisfirePolicy[],
} as const;

/** SCHEDULE_DEFAULTS: the value of every optional field a schedule input leaves out. */
export const SCHEDULE_DEFAULTS = {
  timezone: 'UTC',
  httpMethod: 'POST' as HttpMethod,
  attempts: 3,
  backoff: { type: 'exponential', delayMs: 1000 } as ScheduleBackoff,
  timeoutMs: 30_000,
  overlap: 'allow' as OverlapPolicy,
  misfire: 'all' as MisfirePolicy,
  paused: false,
} as const;

/** SCHEDULE_FIELDS: the fields a schedule input may carry, in contract order. */
export const SCHEDULE_FIELDS = [
  'name', 'cron', 'timezone', 'handler', 'data', 'attempts', 'backoff',
  'timeoutMs', 'overlap', 'misfire', 'paused',
] as const;

/** HTTP_DATA_FIELDS: the fields `data` of an `http` schedule may carry. */
export const HTTP_DATA_FIELDS = ['url', 'method', 'headers', 'body'] as const;
