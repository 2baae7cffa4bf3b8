import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitUntil } from './wait';

/** Delivery: one request the receiver got; `body` is parsed JSON when it was JSON. */
export interface Delivery {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
  /** receivedAt: epoch ms when the body had arrived. */
  receivedAt: number;
  /** answeredAt: epoch ms when the answer was sent (undefined while delayed or if cut off). */
  answeredAt?: number;
  /** remotePort: the sender's source port (socket-owner.ts maps it to a pid). */
  remotePort: number;
}

/** Behaviour: how the receiver answers requests whose path starts with a given prefix. */
export interface Behaviour {
  /** delayMs: wait this long before answering (default 0). */
  delayMs?: number;
  /** status: HTTP status to answer (default 200). */
  status?: number;
}

/**
 * WebhookReceiver is an HTTP server on 127.0.0.1 (port 0) that records every
 * delivery (method, path, headers, JSON body, times, source port) and answers
 * 200 at once unless a Behaviour for the path prefix says otherwise. close()
 * cuts off delayed answers and open connections.
 */
export class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(private readonly server: Server) {}

  /** start listens on 127.0.0.1 and a free port. */
  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => receiver!.record(req.method ?? 'GET', req.url ?? '/', req.headers, chunks, req.socket.remotePort ?? 0, res));
    });
    receiver = new WebhookReceiver(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return receiver;
  }

  /** port: the port it listens on. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** url: absolute URL of `path` on this receiver. */
  url(path = '/'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** behave sets how requests under `pathPrefix` are answered (latest call per prefix wins). */
  behave(pathPrefix: string, behaviour: Behaviour): void {
    this.behaviours.set(pathPrefix, behaviour);
  }

  /** forSchedule: deliveries whose body names `schedule`, in arrival order. */
  forSchedule(schedule: string): Delivery[] {
    return this.deliveries.filter((d) => d.body?.schedule === schedule);
  }

  /** waitFor polls the recorded deliveries until `probe` returns a value. */
  waitFor<T>(probe: (deliveries: Delivery[]) => T | undefined | false, deadlineMs: number, what: string): Promise<T> {
    return waitUntil(() => probe(this.deliveries), {
      deadlineMs,
      what,
      explain: () => `receiver has ${this.deliveries.length} deliveries`,
    });
  }

  /** close stops listening, drops delayed answers and destroys open connections. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private record(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    chunks: Buffer[],
    remotePort: number,
    res: ServerResponse,
  ): void {
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the raw text
    }
    const delivery: Delivery = { method, path, headers, body, receivedAt: Date.now(), remotePort };
    this.deliveries.push(delivery);
    const behaviour = this.behaviourFor(path);
    const answer = () => {
      delivery.answeredAt = Date.now();
      res.writeHead(behaviour.status ?? 200, { 'content-type': 'application/json' }).end('{"ok":true}');
    };
    if (!behaviour.delayMs) return answer();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!res.destroyed) answer();
    }, behaviour.delayMs);
    this.timers.add(timer);
  }

  private behaviourFor(path: string): Behaviour {
    let best: [string, Behaviour] | undefined;
    for (const entry of this.behaviours) {
      if (path.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry;
    }
    return best?.[1] ?? {};
  }
}
