import type { Response } from 'supertest';
import { auth, expectNestError, snapshotStore, type E2eNode } from './e2e-node';

/** EXISTING: the schedule every validation file stores first, so a rejected replace has something to keep. */
export const EXISTING = {
  name: 'existing',
  cron: '0 0 1 1 *',
  timezone: 'UTC',
  handler: 'log',
  data: { note: 'kept' },
  attempts: 2,
} as const;

/** VALID: a minimal valid body (no name) the rejection cases start from; it never fires during a test. */
export const VALID = { cron: '0 0 1 1 *', handler: 'log' } as const;

/** Route: the three ways a schedule body reaches the store. */
export type Route = 'PUT new' | 'PUT replace' | 'POST';

/** ROUTES: every route a body rule is checked on. */
export const ROUTES: Route[] = ['PUT new', 'PUT replace', 'POST'];

/** sendBody sends `body` (an object, or a raw string sent as-is) on one route, with the token. */
export function sendBody(node: E2eNode, route: Route, body: unknown, contentType = 'application/json'): Promise<Response> {
  const name = route === 'PUT replace' ? EXISTING.name : 'fresh-one';
  const payload = typeof body === 'string' ? body
    : route === 'POST' && isPlainObject(body) && !('name' in body) ? JSON.stringify({ name, ...body }) : JSON.stringify(body);
  const req = route === 'POST' ? node.http().post('/api/schedules') : node.http().put(`/api/schedules/${name}`);
  return req.set('Authorization', auth).set('Content-Type', contentType).send(payload);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * expectRejected runs `send` and asserts: the status (or one of several), Nest's error shape, a
 * message matching every pattern in `mentions` (the field and what is
 * allowed), and that nothing in Redis changed. Returns the message.
 */
export async function expectRejected(
  node: E2eNode, send: () => Promise<Response>, status: number | number[], mentions: RegExp[],
): Promise<string> {
  const before = await snapshotStore(node);
  const res = await send();
  expect(res.status).toBeLessThan(500);
  const allowed = Array.isArray(status) ? status : [status];
  expect(allowed).toContain(res.status);
  const message = expectNestError(res, res.status);
  for (const pattern of mentions) expect(message).toMatch(pattern);
  expect(await snapshotStore(node)).toEqual(before);
  return message;
}
