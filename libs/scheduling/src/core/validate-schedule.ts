import { validateDetailed } from 'node-cron';
import {
  HTTP_DATA_FIELDS, SCHEDULE_DEFAULTS, SCHEDULE_FIELDS, SCHEDULE_LIMITS,
  type HttpMethod, type ScheduleBackoff, type ScheduleSpec,
} from './schedule-spec';

/** FieldError: one rejected field (`data.url`, `backoff.delayMs`, ...) and why. */
export interface FieldError {
  field: string;
  message: string;
}

/** ValidationResult: the normalized spec, or every error found (never just the first). */
export type ValidationResult = { ok: true; value: ScheduleSpec } | { ok: false; errors: FieldError[] };

/** ValidateScheduleOptions: context validateScheduleInput needs besides the body. */
export interface ValidateScheduleOptions {
  /** name: the name from the URL path (PUT /schedules/{name}); must match a body `name`. */
  name?: string;
  /** handlers: handler names offered by live nodes. */
  handlers: ReadonlySet<string>;
  /** nowMs: stamps createdAt/updatedAt (default Date.now()). */
  nowMs?: number;
}

const NAME_RE = new RegExp(SCHEDULE_LIMITS.namePattern);
type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/** Collects errors while reading one input object. */
class FieldReader {
  readonly errors: FieldError[] = [];
  constructor(private readonly obj: Obj, private readonly path = '') {}

  fail(field: string, message: string): undefined {
    this.errors.push({ field: this.path + field, message });
    return undefined;
  }

  rejectUnknown(allowed: readonly string[]): void {
    for (const key of Object.keys(this.obj)) {
      if (!allowed.includes(key)) {
        this.fail(key, `unknown field '${this.path}${key}'; allowed: ${allowed.join(', ')}`);
      }
    }
  }

  string(field: string, required: boolean): string | undefined {
    const v = this.obj[field];
    if (v === undefined) return required ? this.fail(field, 'is required (a string)') : undefined;
    if (typeof v !== 'string') return this.fail(field, `must be a string, got ${typeName(v)}`);
    return v;
  }

  int(field: string, min: number, max: number, dflt: number): number | undefined {
    const v = this.obj[field];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      return this.fail(field, `must be an integer from ${min} to ${max}, got ${typeName(v) === 'a number' ? v : typeName(v)}`);
    }
    if (v < min || v > max) return this.fail(field, `must be from ${min} to ${max}, got ${v}`);
    return v;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[], dflt: T): T | undefined {
    const v = this.obj[field];
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      return this.fail(field, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  }

  bool(field: string, dflt: boolean): boolean | undefined {
    const v = this.obj[field];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') return this.fail(field, `must be a boolean, got ${typeName(v)}`);
    return v;
  }
}

function readName(r: FieldReader, input: Obj, pathName: string | undefined): string | undefined {
  const bodyName = r.string('name', pathName === undefined);
  if (pathName !== undefined && bodyName !== undefined && bodyName !== pathName) {
    return r.fail('name', `'${bodyName}' in the body does not match '${pathName}' in the path`);
  }
  const name = bodyName ?? pathName;
  if (name !== undefined && !NAME_RE.test(name)) {
    return r.fail('name', `must be 1-${SCHEDULE_LIMITS.nameMaxLength} characters of a-z 0-9 . _ - starting with a letter or digit, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** CRON_FIELD_RANGES: what each cron field allows, for error messages. */
const CRON_FIELD_RANGES: Record<string, string> = {
  second: '0-59', minute: '0-59', hour: '0-23', dayOfMonth: '1-31 (or L)', month: '1-12 or jan-dec',
  dayOfWeek: '0-7 (0 and 7 are Sunday) or sun-sat',
};

function readCron(r: FieldReader): string | undefined {
  const cron = r.string('cron', true);
  if (cron === undefined) return undefined;
  const result = validateDetailed(cron);
  if (result.valid) return cron;
  const detail = result.errors.map((e) => (e.field === 'expression'
    ? e.message
    : `${e.field} ${JSON.stringify(e.value ?? '')} is not valid; allowed: ${CRON_FIELD_RANGES[e.field] ?? 'see node-cron syntax'}, with * , - and /step`));
  return r.fail('cron', `invalid cron expression ${JSON.stringify(cron)} (5 fields, or 6 with seconds first): ${detail.join('; ')}`);
}

function readTimezone(r: FieldReader): string | undefined {
  const tz = r.string('timezone', false);
  if (tz === undefined) return r.errors.some((e) => e.field === 'timezone') ? undefined : SCHEDULE_DEFAULTS.timezone;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: tz });
    return tz;
  } catch {
    return r.fail('timezone', `unknown time zone ${JSON.stringify(tz)}; use an IANA name such as UTC or Europe/Berlin`);
  }
}

function readHandler(r: FieldReader, handlers: ReadonlySet<string>): string | undefined {
  const handler = r.string('handler', true);
  if (handler === undefined || handlers.has(handler)) return handler;
  const offered = [...handlers].sort().join(', ') || 'none';
  return r.fail('handler', `no live node offers handler ${JSON.stringify(handler)}; offered: ${offered}`);
}

function readBackoff(r: FieldReader, input: Obj): ScheduleBackoff | undefined {
  const v = input.backoff;
  if (v === undefined) return { ...SCHEDULE_DEFAULTS.backoff };
  if (!isObject(v)) return r.fail('backoff', `must be an object {type, delayMs}, got ${typeName(v)}`);
  const b = new FieldReader(v, 'backoff.');
  b.rejectUnknown(['type', 'delayMs']);
  const type = b.oneOf('type', SCHEDULE_LIMITS.backoffTypes, SCHEDULE_DEFAULTS.backoff.type);
  const { min, max } = SCHEDULE_LIMITS.backoffDelayMs;
  const delayMs = b.int('delayMs', min, max, SCHEDULE_DEFAULTS.backoff.delayMs);
  r.errors.push(...b.errors);
  return type !== undefined && delayMs !== undefined && b.errors.length === 0 ? { type, delayMs } : undefined;
}

function readHeaders(r: FieldReader, v: unknown): Record<string, string> | undefined {
  if (v === undefined) return {};
  if (!isObject(v)) return r.fail('headers', `must be an object of string values, got ${typeName(v)}`);
  const bad = Object.entries(v).filter(([, value]) => typeof value !== 'string');
  for (const [key, value] of bad) r.fail(`headers.${key}`, `must be a string, got ${typeName(value)}`);
  return bad.length === 0 ? (v as Record<string, string>) : undefined;
}

function readHttpData(r: FieldReader, data: Obj | undefined): Obj | undefined {
  if (data === undefined) return r.fail('data', 'is required for the http handler (an object with url)');
  const d = new FieldReader(data, 'data.');
  d.rejectUnknown(HTTP_DATA_FIELDS);
  const url = d.string('url', true);
  if (url !== undefined) {
    let parsed: URL | undefined;
    try { parsed = new URL(url); } catch { parsed = undefined; }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      d.fail('url', `must be an absolute http:// or https:// URL, got ${JSON.stringify(url)}`);
    }
  }
  const method = d.oneOf<HttpMethod>('method', SCHEDULE_LIMITS.httpMethods, SCHEDULE_DEFAULTS.httpMethod);
  const headers = readHeaders(d, data.headers);
  r.errors.push(...d.errors);
  if (d.errors.length > 0) return undefined;
  const out: Obj = { url, method, headers };
  if (data.body !== undefined) out.body = data.body;
  return out;
}

function readData(r: FieldReader, input: Obj, handler: string | undefined): Obj | undefined | null {
  const v = input.data;
  if (v !== undefined && !isObject(v)) return r.fail('data', `must be a JSON object, got ${typeName(v)}`) ?? null;
  if (v !== undefined) {
    // Depth first: JSON.stringify of a deeply nested value overflows the stack (a 500, found by fuzzing).
    if (nestedDeeperThan(v, SCHEDULE_LIMITS.dataMaxDepth)) {
      return r.fail('data', `is nested deeper than ${SCHEDULE_LIMITS.dataMaxDepth} levels`) ?? null;
    }
    const bytes = Buffer.byteLength(JSON.stringify(v), 'utf8');
    if (bytes > SCHEDULE_LIMITS.dataMaxBytes) {
      return r.fail('data', `is ${bytes} bytes serialized; the limit is ${SCHEDULE_LIMITS.dataMaxBytes}`) ?? null;
    }
  }
  if (handler !== 'http') return v;
  return readHttpData(r, v) ?? null;
}

/** nestedDeeperThan: whether objects/arrays in `value` nest deeper than `max` (iterative: no recursion to overflow). */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * validateScheduleInput checks an API body against the contract and returns
 * the normalized ScheduleSpec (defaults filled in, createdAt = updatedAt =
 * now), or every problem found, each naming its field. It never throws.
 */
export function validateScheduleInput(input: unknown, opts: ValidateScheduleOptions): ValidationResult {
  if (!isObject(input)) {
    return { ok: false, errors: [{ field: 'body', message: `must be a JSON object, got ${typeName(input)}` }] };
  }
  const r = new FieldReader(input);
  r.rejectUnknown(SCHEDULE_FIELDS);
  const name = readName(r, input, opts.name);
  const cron = readCron(r);
  const timezone = readTimezone(r);
  const handler = readHandler(r, opts.handlers);
  const data = readData(r, input, handler);
  const attempts = r.int('attempts', SCHEDULE_LIMITS.attempts.min, SCHEDULE_LIMITS.attempts.max, SCHEDULE_DEFAULTS.attempts);
  const backoff = readBackoff(r, input);
  const timeoutMs = r.int('timeoutMs', SCHEDULE_LIMITS.timeoutMs.min, SCHEDULE_LIMITS.timeoutMs.max, SCHEDULE_DEFAULTS.timeoutMs);
  const overlap = r.oneOf('overlap', SCHEDULE_LIMITS.overlapPolicies, SCHEDULE_DEFAULTS.overlap);
  const misfire = r.oneOf('misfire', SCHEDULE_LIMITS.misfirePolicies, SCHEDULE_DEFAULTS.misfire);
  const paused = r.bool('paused', SCHEDULE_DEFAULTS.paused);
  if (r.errors.length > 0) return { ok: false, errors: r.errors };
  const now = new Date(opts.nowMs ?? Date.now()).toISOString();
  const value: ScheduleSpec = {
    name: name!, cron: cron!, timezone: timezone!, handler: handler!,
    ...(data ? { data } : {}),
    attempts: attempts!, backoff: backoff!, timeoutMs: timeoutMs!, overlap: overlap!, misfire: misfire!, paused: paused!,
    createdAt: now, updatedAt: now,
  };
  return { ok: true, value };
}
