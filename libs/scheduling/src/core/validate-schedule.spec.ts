import { SCHEDULE_DEFAULTS } from './schedule-spec';
import { validateScheduleInput, type FieldError } from './validate-schedule';

const handlers = new Set(['http', 'log', 'report']);
const NOW = Date.parse('2026-01-01T00:00:00Z');
const minimal = { name: 'nightly', cron: '0 30 2 * * *', handler: 'log' };

function errorsOf(input: unknown, opts: { name?: string } = {}): FieldError[] {
  const result = validateScheduleInput(input, { handlers, nowMs: NOW, ...opts });
  if (result.ok) throw new Error(`expected errors, got ${JSON.stringify(result.value)}`);
  return result.errors;
}

function expectError(input: unknown, field: string, message: RegExp, opts: { name?: string } = {}): void {
  const errors = errorsOf(input, opts);
  expect(errors).toEqual(expect.arrayContaining([{ field, message: expect.stringMatching(message) }]));
}

describe('validateScheduleInput', () => {
  it('fills every default and stamps createdAt/updatedAt', () => {
    const result = validateScheduleInput(minimal, { handlers, nowMs: NOW });
    expect(result).toEqual({
      ok: true,
      value: {
        ...minimal, timezone: 'UTC', attempts: 3, backoff: { type: 'exponential', delayMs: 1000 },
        timeoutMs: 30000, overlap: 'allow', misfire: 'all', paused: false,
        createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
      },
    });
    expect(SCHEDULE_DEFAULTS.timezone).toBe('UTC');
  });

  it('keeps every given field of a full schedule', () => {
    const full = {
      ...minimal, timezone: 'Europe/Berlin', handler: 'http', attempts: 5, backoff: { type: 'fixed', delayMs: 0 },
      data: { url: 'https://x.test/run', method: 'PUT', headers: { a: 'b' }, body: [1, { k: null }] },
      timeoutMs: 100, overlap: 'skip', misfire: 'latest', paused: true,
    };
    const result = validateScheduleInput(full, { handlers, nowMs: NOW });
    expect(result.ok && result.value).toMatchObject(full);
  });

  it('rejects a body that is not an object', () => {
    expectError([], 'body', /JSON object/);
    expectError(null, 'body', /JSON object/);
  });

  it('rejects unknown fields, naming them and listing the allowed ones', () => {
    expectError({ ...minimal, retries: 2 }, 'retries', /unknown field 'retries'; allowed: name, cron, timezone/);
  });

  it('requires a name unless the path gives one, and the two must match', () => {
    expectError({ cron: '* * * * *', handler: 'log' }, 'name', /required/);
    const fromPath = validateScheduleInput({ cron: '* * * * *', handler: 'log' }, { handlers, name: 'from-path' });
    expect(fromPath.ok && fromPath.value.name).toBe('from-path');
    expectError(minimal, 'name', /does not match 'other'/, { name: 'other' });
  });

  it.each(['', 'Upper', '-lead', '.dot', 'a b', 'x'.repeat(65), 'a/b'])('rejects the name %j', (name) => {
    expectError({ ...minimal, name }, 'name', /a-z 0-9/);
  });

  it('accepts a 64-character name of every allowed character', () => {
    const name = `0a.b_c-${'z'.repeat(57)}`;
    expect(validateScheduleInput({ ...minimal, name }, { handlers }).ok).toBe(true);
  });

  it('rejects a name of the wrong type with the expected type', () => {
    expectError({ ...minimal, name: 5 }, 'name', /must be a string, got a number/);
  });

  it('reports node-cron field errors and wrong field counts for cron', () => {
    expectError({ ...minimal, cron: '61 * * * *' }, 'cron', /minute/);
    expectError({ ...minimal, cron: '* * *' }, 'cron', /expected 5 or 6 fields but got 3/);
    expectError({ ...minimal, cron: 7 }, 'cron', /must be a string/);
    expectError({ name: 'a', handler: 'log' }, 'cron', /required/);
  });

  it('accepts 5- and 6-field crons', () => {
    expect(validateScheduleInput({ ...minimal, cron: '*/5 * * * *' }, { handlers }).ok).toBe(true);
    expect(validateScheduleInput({ ...minimal, cron: '*/5 * * * * *' }, { handlers }).ok).toBe(true);
  });

  it('rejects a time zone that is not IANA', () => {
    expectError({ ...minimal, timezone: 'Mars/Olympus' }, 'timezone', /unknown time zone "Mars\/Olympus"/);
    expectError({ ...minimal, timezone: 1 }, 'timezone', /must be a string/);
  });

  it('rejects a handler no live node offers, listing the offered ones', () => {
    expectError({ ...minimal, handler: 'nope' }, 'handler', /offered: http, log, report/);
    expectError({ name: 'a', cron: '* * * * *' }, 'handler', /required/);
  });

  it('requires data to be a JSON object of at most 64 KiB', () => {
    expectError({ ...minimal, data: 'x' }, 'data', /JSON object, got a string/);
    expectError({ ...minimal, data: [1] }, 'data', /JSON object, got an array/);
    expectError({ ...minimal, data: { big: 'x'.repeat(65 * 1024) } }, 'data', /limit is 65536/);
    expect(validateScheduleInput({ ...minimal, data: { any: [1, 'two'] } }, { handlers }).ok).toBe(true);
  });

  it('rejects data nested deeper than 32 levels with a 400-style error, even 5,000 deep (no stack overflow)', () => {
    const nest = (depth: number) => { let v: unknown = 1; for (let i = 1; i < depth; i++) v = i % 2 ? [v] : { v }; return { v }; };
    expectError({ ...minimal, data: nest(5000) }, 'data', /nested deeper than 32 levels/);
    expectError({ ...minimal, data: nest(33) }, 'data', /nested deeper than 32/);
    expect(validateScheduleInput({ ...minimal, data: nest(32) }, { handlers }).ok).toBe(true);
  });

  it('requires an http(s) url for the http handler and defaults method and headers', () => {
    const http = { ...minimal, handler: 'http' };
    expectError(http, 'data', /required for the http handler/);
    expectError({ ...http, data: {} }, 'data.url', /required/);
    expectError({ ...http, data: { url: 'ftp://x.test' } }, 'data.url', /http:\/\/ or https:\/\//);
    expectError({ ...http, data: { url: 'not a url' } }, 'data.url', /absolute/);
    const ok = validateScheduleInput({ ...http, data: { url: 'http://x.test' } }, { handlers });
    expect(ok.ok && ok.value.data).toEqual({ url: 'http://x.test', method: 'POST', headers: {} });
  });

  it('checks the http method, headers and unknown data fields', () => {
    const http = { ...minimal, handler: 'http' };
    expectError({ ...http, data: { url: 'http://x.test', method: 'TRACE' } }, 'data.method', /one of GET, POST, PUT, PATCH, DELETE, HEAD/);
    expectError({ ...http, data: { url: 'http://x.test', headers: { a: 1 } } }, 'data.headers.a', /must be a string/);
    expectError({ ...http, data: { url: 'http://x.test', headers: 'a' } }, 'data.headers', /object of string values/);
    expectError({ ...http, data: { url: 'http://x.test', query: 1 } }, 'data.query', /allowed: url, method, headers, body/);
  });

  it('bounds attempts to an integer from 1 to 20', () => {
    expectError({ ...minimal, attempts: 0 }, 'attempts', /from 1 to 20, got 0/);
    expectError({ ...minimal, attempts: 21 }, 'attempts', /from 1 to 20/);
    expectError({ ...minimal, attempts: 1.5 }, 'attempts', /must be an integer/);
    expectError({ ...minimal, attempts: '3' }, 'attempts', /must be an integer from 1 to 20, got a string/);
  });

  it('checks backoff type, delay and shape', () => {
    expectError({ ...minimal, backoff: { type: 'linear' } }, 'backoff.type', /one of fixed, exponential/);
    expectError({ ...minimal, backoff: { delayMs: 3_600_001 } }, 'backoff.delayMs', /from 0 to 3600000/);
    expectError({ ...minimal, backoff: { delayMs: 1, jitter: 1 } }, 'backoff.jitter', /allowed: type, delayMs/);
    expectError({ ...minimal, backoff: 5 }, 'backoff', /must be an object/);
    const partial = validateScheduleInput({ ...minimal, backoff: { type: 'fixed' } }, { handlers });
    expect(partial.ok && partial.value.backoff).toEqual({ type: 'fixed', delayMs: 1000 });
  });

  it('bounds timeoutMs to 100..3600000', () => {
    expectError({ ...minimal, timeoutMs: 99 }, 'timeoutMs', /from 100 to 3600000/);
    expectError({ ...minimal, timeoutMs: 3_600_001 }, 'timeoutMs', /from 100 to 3600000/);
  });

  it('checks overlap, misfire and paused', () => {
    expectError({ ...minimal, overlap: 'queue' }, 'overlap', /one of allow, skip/);
    expectError({ ...minimal, misfire: 'some' }, 'misfire', /one of all, latest, none/);
    expectError({ ...minimal, paused: 'yes' }, 'paused', /must be a boolean, got a string/);
  });

  it('reports every error at once, each naming its field', () => {
    const fields = errorsOf({ name: 'Bad', cron: 'x', handler: 'nope', attempts: 0, paused: 1 }).map((e) => e.field);
    expect(fields.sort()).toEqual(['attempts', 'cron', 'handler', 'name', 'paused']);
  });
});
