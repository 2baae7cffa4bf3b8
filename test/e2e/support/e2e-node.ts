import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { batonKeys, type BatonKeys } from '@lib/common';
import { loadConfig, type BatonConfig } from '../../../apps/baton/src/config/baton-config';
import { createPino, PinoEventLogger } from '../../../apps/baton/src/logging/logger';
import { createApp } from '../../../apps/baton/src/main';
import { NodeLifecycle } from '../../../apps/baton/src/node-lifecycle';
import { connectTo, startRedisServer, type RedisServerHandle } from '../../support/redis-server';

/** E2E_TOKEN: the BATON_API_TOKEN every e2e node is booted with. */
export const E2E_TOKEN = 'test-token-123';
/** E2E_NODE_ID: the BATON_NODE_ID of every e2e node. */
export const E2E_NODE_ID = 'e2e-1';

/** E2eNode: one in-process Baton node on its own private redis-server, plus a Redis client to inspect it. */
export interface E2eNode {
  app: INestApplication;
  server: RedisServerHandle;
  /** redis: a separate client on the node's Redis, for reading keys back. */
  redis: Redis;
  config: BatonConfig;
  keys: BatonKeys;
  /** http: a supertest agent bound to the app's HTTP server (no auth header). */
  http(): ReturnType<typeof request>;
  /** stop: the graceful stop of main.ts (leadership, app, cluster view), then the Redis server. */
  stop(): Promise<void>;
}

/**
 * startE2eNode boots one node in-process with a unique prefix, a 1 s lease and
 * the API token E2E_TOKEN. It does not listen on a port; supertest binds the
 * HTTP server itself.
 */
export async function startE2eNode(): Promise<E2eNode> {
  const server = await startRedisServer();
  const prefix = `e2e-${randomBytes(4).toString('hex')}`;
  const config = loadConfig({
    REDIS_URL: server.url, BATON_API_TOKEN: E2E_TOKEN, BATON_PREFIX: prefix, BATON_NODE_ID: E2E_NODE_ID,
    BATON_LEASE_MS: '1000', PORT: '0', LOG_LEVEL: 'warn', LOG_FORMAT: 'json',
  }, false);
  const logger = new PinoEventLogger(createPino({ nodeId: config.nodeId, level: 'warn', format: 'json' }));
  let app: INestApplication | undefined;
  let redis: Redis | undefined;
  // On a DI error Nest's init calls process.exit(1), then process.abort(), which would orphan the
  // redis-server: make both throw instead, so the error reaches the test and the cleanup below runs.
  const exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
    throw new Error(`the app called process.exit(${String(code)}) while starting`);
  });
  const abort = jest.spyOn(process, 'abort').mockImplementation(() => {
    throw new Error('the app called process.abort() while starting');
  });
  try {
    app = await createApp(config, logger, false);
    await app.init();
    redis = await connectTo(server);
    redis.on('error', () => undefined); // outage tests kill the server; errors surface on the commands themselves
  } catch (err) {
    await app?.close().catch(() => undefined);
    await server.cleanup();
    throw err;
  } finally {
    exit.mockRestore();
    abort.mockRestore();
  }
  const booted = app;
  const client = redis;
  return {
    app: booted, server, redis: client, config, keys: batonKeys(prefix),
    http: () => request(booted.getHttpServer()),
    async stop() {
      const lifecycle = booted.get(NodeLifecycle);
      await lifecycle.stopLeadership().catch(() => undefined);
      await booted.close().catch(() => undefined);
      await lifecycle.leaveCluster().catch(() => undefined);
      client.disconnect();
      await server.cleanup();
    },
  };
}

/** auth: the Authorization header value for E2E_TOKEN. */
export const auth = `Bearer ${E2E_TOKEN}`;

/** sleep: for poll loops, and for a window in which a test checks that something does NOT happen. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** waitFor polls `probe` every 25 ms until it returns a value other than undefined/false; throws after `deadlineMs`. */
export async function waitFor<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(25);
  }
}

// Keys that change on their own (election, heartbeats, BullMQ housekeeping), not because of a request.
const VOLATILE = /:(leader|leader-info|term|nodes|nodes:seen|meta|jobs:(meta|stalled-check|events|marker|stalled))$/;

/** StoreSnapshot: everything a request could change, for "a rejected request changes nothing". */
export interface StoreSnapshot {
  keys: string[];
  schedules: Record<string, string>;
  rev: string | null;
}

/** snapshotStore reads every non-volatile key of the node's prefix, the schedules hash and its revision. */
export async function snapshotStore(node: E2eNode): Promise<StoreSnapshot> {
  const all = await node.redis.keys(`${node.keys.tag}:*`);
  return {
    keys: all.filter((k) => !VOLATILE.test(k)).sort(),
    schedules: await node.redis.hgetall(node.keys.schedules),
    rev: await node.redis.get(node.keys.schedulesRev),
  };
}

/** messageText: Nest's `message` as one string (it may be a string or an array of strings). */
export function messageText(body: { message?: unknown }): string {
  return Array.isArray(body.message) ? body.message.join('; ') : String(body.message);
}

/** expectNestError asserts Nest's error shape `{statusCode, error, message}` with the given status. */
export function expectNestError(res: { status: number; body: Record<string, unknown> }, status: number): string {
  expect({ status: res.status, statusCode: res.body.statusCode }).toEqual({ status, statusCode: status });
  expect(typeof res.body.error).toBe('string');
  expect((res.body.error as string).length).toBeGreaterThan(0);
  const text = messageText(res.body);
  expect(text.length).toBeGreaterThan(0);
  return text;
}
