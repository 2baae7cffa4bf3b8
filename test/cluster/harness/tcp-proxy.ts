import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** ProxyMode: `open` forwards, `cut` refuses, `blackhole` accepts and holds every byte. */
export type ProxyMode = 'open' | 'cut' | 'blackhole';

/** ProxyStats: counters a report can print. */
export interface ProxyStats {
  accepted: number;
  refused: number;
  cutConnections: number;
  heldChunks: number;
}

type Direction = 'up' | 'down';

/** One proxied connection: the node's socket and ours to Redis, plus what is held per direction. */
interface Link {
  client: Socket;
  upstream: Socket;
  /** queue: bytes not yet forwarded per direction, each with when it may go (latency). */
  queue: Record<Direction, { chunk: Buffer; dueAt: number }[]>;
  timer: Record<Direction, NodeJS.Timeout | undefined>;
}

/**
 * TcpProxy sits between one node and Redis on 127.0.0.1 (port 0) and can
 * misbehave on demand, like a network between them:
 * - `cut()` destroys every connection and refuses new ones (ECONNRESET at once);
 * - `blackhole()` keeps sockets open and accepts new ones, but forwards no
 *   byte either way: a partition in which TCP retransmits and nothing
 *   answers. The bytes are held, not dropped, so `heal()` delivers them in
 *   order, as TCP does when a partition ends before its timeout (the
 *   dangerous case: a command sent by a stale leader reaches Redis late);
 * - `latency(ms)` delays every chunk by ms/2 each way (round trip +ms);
 * - `heal()` forwards again with no latency, after flushing held bytes.
 * Modes combine with latency; `cut` and `blackhole` exclude each other.
 */
export class TcpProxy {
  readonly stats: ProxyStats = { accepted: 0, refused: 0, cutConnections: 0, heldChunks: 0 };
  private readonly links = new Set<Link>();
  private modeNow: ProxyMode = 'open';
  private latencyMs = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly target: { host: string; port: number },
  ) {}

  /** start listens on 127.0.0.1 and a free port, forwarding to `target` (default host 127.0.0.1). */
  static async start(target: { host?: string; port: number }): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer({ noDelay: true }, (socket) => proxy!.accept(socket));
    proxy = new TcpProxy(server, { host: target.host ?? '127.0.0.1', port: target.port });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  /** port: where nodes connect. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** url: redis://127.0.0.1:<port>, the REDIS_URL a node behind this proxy gets. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** mode: the current mode. */
  get mode(): ProxyMode {
    return this.modeNow;
  }

  /** currentLatencyMs: the added round trip (0 when none). */
  get currentLatencyMs(): number {
    return this.latencyMs;
  }

  /** openConnections: how many node connections are currently proxied. */
  get openConnections(): number {
    return this.links.size;
  }

  /** cut destroys every connection (both ends) and refuses new ones until heal(). */
  cut(): void {
    this.modeNow = 'cut';
    for (const link of [...this.links]) {
      this.stats.cutConnections++;
      this.drop(link);
    }
  }

  /** blackhole holds every byte of every connection, open or new, until heal(). */
  blackhole(): void {
    this.modeNow = 'blackhole';
  }

  /** latency adds `ms` to every round trip (ms/2 each way); 0 removes it. */
  latency(ms: number): void {
    if (!(ms >= 0)) throw new Error(`latency must be >= 0 ms, got ${ms}`);
    this.latencyMs = ms;
  }

  /** heal forwards again: held bytes first, in order; latency back to 0. */
  heal(): void {
    this.modeNow = 'open';
    this.latencyMs = 0;
    for (const link of this.links) {
      for (const dir of ['up', 'down'] as const) {
        for (const item of link.queue[dir]) item.dueAt = 0;
        clearTimeout(link.timer[dir]);
        link.timer[dir] = undefined;
        this.pump(link, dir);
      }
    }
  }

  /** close stops listening and destroys every connection. Safe to call twice. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const link of [...this.links]) this.drop(link);
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.modeNow === 'cut') {
      this.stats.refused++;
      client.destroy();
      return;
    }
    this.stats.accepted++;
    client.setNoDelay(true);
    const upstream = connect({ host: this.target.host, port: this.target.port });
    upstream.setNoDelay(true);
    const link: Link = { client, upstream, queue: { up: [], down: [] }, timer: { up: undefined, down: undefined } };
    this.links.add(link);
    client.on('data', (chunk: Buffer) => this.forward(link, 'up', chunk));
    upstream.on('data', (chunk: Buffer) => this.forward(link, 'down', chunk));
    for (const s of [client, upstream]) {
      s.on('error', () => this.drop(link));
      s.on('close', () => this.drop(link));
    }
  }

  private forward(link: Link, dir: Direction, chunk: Buffer): void {
    if (!this.links.has(link)) return;
    if (this.modeNow === 'blackhole') this.stats.heldChunks++;
    // One FIFO per direction: a chunk never overtakes an earlier one, whatever the mode or latency did meanwhile.
    const queue = link.queue[dir];
    const dueAt = Math.max(Date.now() + this.latencyMs / 2, queue.length ? queue[queue.length - 1].dueAt : 0);
    queue.push({ chunk, dueAt });
    this.pump(link, dir);
  }

  /** pump writes the due head of a direction's queue, unless black-holed; re-arms for the next chunk. */
  private pump(link: Link, dir: Direction): void {
    if (!this.links.has(link) || this.modeNow === 'blackhole' || link.timer[dir]) return;
    const queue = link.queue[dir];
    const to = dir === 'up' ? link.upstream : link.client;
    while (queue.length && queue[0].dueAt <= Date.now()) to.write(queue.shift()!.chunk);
    if (!queue.length) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      link.timer[dir] = undefined;
      this.pump(link, dir);
    }, queue[0].dueAt - Date.now());
    link.timer[dir] = timer;
    this.timers.add(timer);
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    clearTimeout(link.timer.up);
    clearTimeout(link.timer.down);
    link.client.destroy();
    link.upstream.destroy();
  }
}
