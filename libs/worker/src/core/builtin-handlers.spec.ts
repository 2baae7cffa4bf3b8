import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EventLogger } from '@lib/common';
import { HandlerRegistry, type JobContext } from './handler-registry';
import { httpHandler, makeLogHandler, registerBuiltinHandlers } from './builtin-handlers';
import { HttpHandlerError, InvalidHttpPayloadError, JobTimeoutError } from './worker.errors';

interface Seen { method: string; url: string; headers: IncomingHttpHeaders; body: string }

/** A loopback receiver on port 0 that answers with `reply` and records each request. */
async function receiver(reply: (req: Seen) => { status: number; body?: string } | null) {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      const r = reply(s);
      if (!r) return; // never answer
      res.writeHead(r.status, { 'content-type': 'text/plain' }).end(r.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return { seen, url, close };
}

const context = (payload: unknown, over: Partial<JobContext> = {}): JobContext => ({
  jobId: 'nightly-report@1795224600000', schedule: 'nightly-report', scheduledFor: '2026-11-27T01:30:00.000Z',
  attempt: 2, fencingToken: 42, payload, signal: new AbortController().signal, trigger: 'cron', timeoutMs: 30_000, ...over,
});

describe('httpHandler', () => {
  let rx: Awaited<ReturnType<typeof receiver>>;
  afterEach(async () => rx?.close());

  it('POSTs the exact JSON envelope with Idempotency-Key and the schedule headers', async () => {
    rx = await receiver(() => ({ status: 204 }));
    const payload = { url: `${rx.url}/run?x=1`, headers: { 'X-Team': 'reports', 'idempotency-key': 'spoofed' }, body: { kind: 'daily' } };
    await expect(httpHandler(context(payload))).resolves.toEqual({ status: 204 });
    expect(rx.seen).toHaveLength(1);
    const [req] = rx.seen;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/run?x=1');
    expect(req.headers['idempotency-key']).toBe('nightly-report@1795224600000');
    expect(req.headers['x-team']).toBe('reports');
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({
      schedule: 'nightly-report', scheduledFor: '2026-11-27T01:30:00.000Z', jobId: 'nightly-report@1795224600000',
      attempt: 2, fencingToken: 42, payload: { kind: 'daily' },
    });
    expect(Object.keys(JSON.parse(req.body))).toEqual(['schedule', 'scheduledFor', 'jobId', 'attempt', 'fencingToken', 'payload']);
  });

  it('sends payload null when the schedule has no body, and uses the given method', async () => {
    rx = await receiver(() => ({ status: 200 }));
    await httpHandler(context({ url: rx.url, method: 'put' }));
    expect(rx.seen[0].method).toBe('PUT');
    expect(JSON.parse(rx.seen[0].body).payload).toBeNull();
  });

  it('sends GET without a body but with the Idempotency-Key', async () => {
    rx = await receiver(() => ({ status: 200, body: 'ok' }));
    await httpHandler(context({ url: rx.url, method: 'GET', body: { ignored: true } }));
    expect(rx.seen[0]).toMatchObject({ method: 'GET', body: '' });
    expect(rx.seen[0].headers['idempotency-key']).toBe('nightly-report@1795224600000');
    expect(rx.seen[0].headers['content-type']).toBeUndefined();
  });

  it('fails a non-2xx answer with the status and a short excerpt of the body', async () => {
    rx = await receiver(() => ({ status: 503, body: `overloaded\n${'x'.repeat(1000)}` }));
    const err = await httpHandler(context({ url: rx.url })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpHandlerError);
    expect((err as HttpHandlerError).status).toBe(503);
    expect((err as Error).message).toMatch(new RegExp(`^http handler: POST ${rx.url} answered 503: overloaded x+$`));
    expect((err as Error).message.length).toBeLessThan(300);
  });

  it('fails with "timed out after N ms" when the signal aborts before the answer', async () => {
    rx = await receiver(() => null);
    const ac = new AbortController();
    const attempt = httpHandler(context({ url: rx.url }, { signal: ac.signal, timeoutMs: 50 }));
    const deadline = Date.now() + 5000;
    while (rx.seen.length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    ac.abort(new JobTimeoutError(50));
    await expect(attempt).rejects.toThrow('timed out after 50 ms');
  });

  it('names a refused connection in its error', async () => {
    rx = await receiver(() => ({ status: 200 }));
    const url = rx.url;
    await rx.close();
    await expect(httpHandler(context({ url }))).rejects.toThrow(`http handler: POST ${url} failed:`);
  });

  it.each([
    [undefined, 'url'], [{ url: 'ftp://x' }, 'url'], [{ url: 'http://x', method: 'P OST' }, 'method'],
    [{ url: 'http://x', headers: [] }, 'headers'],
  ])('rejects the payload %j naming field %s', async (payload, field) => {
    const err = await httpHandler(context(payload)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidHttpPayloadError);
    expect((err as Error).message).toContain(`"${field}"`);
  });
});

describe('log handler and built-ins', () => {
  it('logs the job as event job.log and succeeds', async () => {
    const lines: unknown[][] = [];
    const logger: EventLogger = { log: (...args) => { lines.push(args); } };
    await makeLogHandler(logger)(context({ note: 'hi' }));
    expect(lines).toEqual([['info', 'job.log', expect.stringContaining('nightly-report@1795224600000'), expect.objectContaining({
      schedule: 'nightly-report', jobId: 'nightly-report@1795224600000', attempt: 2, payload: { note: 'hi' },
    })]]);
  });

  it('registerBuiltinHandlers offers http and log', () => {
    const registry = new HandlerRegistry();
    registerBuiltinHandlers(registry, { log: () => undefined });
    expect(registry.names()).toEqual(['http', 'log']);
    expect(registry.get('http')).toBe(httpHandler);
  });
});
