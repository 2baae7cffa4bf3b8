import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { freePort, startRedisServer, type RedisServerHandle } from '../../support/redis-server';
import { ApiClient } from './api-client';
import { NodeProcess, type LogRecord } from './node-process';
import { TcpProxy } from './tcp-proxy';
import { waitUntil } from './wait';

/** ROOT: the repository root (cwd of every node). */
const ROOT = resolve(__dirname, '../../..');

/** DEFAULT_ENTRY: the built app, as the contract starts it. */
export const DEFAULT_ENTRY = resolve(ROOT, 'dist/apps/baton/main.js');

/** BatonClusterOptions: the cluster a test runs. Every field has a test-friendly default. */
export interface BatonClusterOptions {
  /** nodeIds: harness ids, also each node's BATON_NODE_ID (default n1, n2, n3). */
  nodeIds?: string[];
  /** leaseMs: BATON_LEASE_MS (default 2000). */
  leaseMs?: number;
  /** jobLockMs: BATON_JOB_LOCK_MS, after which a dead worker's job is recovered (default 2000). */
  jobLockMs?: number;
  /** shutdownGraceMs: BATON_SHUTDOWN_GRACE_MS (default 5000). */
  shutdownGraceMs?: number;
  /** workerConcurrency: BATON_WORKER_CONCURRENCY (default 4). */
  workerConcurrency?: number;
  /** apiToken: BATON_API_TOKEN (default a random token; `null` leaves it unset). */
  apiToken?: string | null;
  /** appendOnly: run the private redis-server with AOF so a restart keeps data (default false). */
  appendOnly?: boolean;
  /** entry: script each node runs (default dist/apps/baton/main.js). */
  entry?: string;
  /** env: extra environment for every node. */
  env?: Record<string, string>;
  /**
   * proxied: put a TcpProxy between each node and Redis (the node's REDIS_URL
   * is its own proxy), so one node can be cut, black-holed or slowed while
   * the others carry on (default false: nodes talk to Redis directly).
   */
  proxied?: boolean;
}

/** Disruption: something the harness did to a process, with when (epoch ms). */
export interface Disruption {
  /** `block`: a node's event loop was blocked (by a handler), recorded by the test that caused it. */
  kind: 'kill' | 'pause' | 'resume' | 'stop' | 'start' | 'redis-restart' | 'cut' | 'blackhole' | 'latency' | 'heal' | 'block';
  id: string;
  at: number;
}

/** RecordFilter: an event name, or a predicate over log records. */
export type RecordFilter = string | ((record: LogRecord) => boolean);

const live = new Set<BatonCluster>();

/** INHERIT_NOT: variables of the jest process that never reach a node. */
const INHERIT_NOT = /^(BATON_|REDIS_|LOG_|NODE_ENV$|NODE_OPTIONS$|JEST_|PORT$|HOST$)/;

/**
 * BatonCluster runs one private redis-server and N real node processes on
 * free loopback ports, under a prefix unique to the test. It keeps every
 * node's output in memory, parses the JSON log lines, and kills everything it
 * started in shutdown() (BatonCluster.shutdownAll() in afterEach catches tests
 * that timed out; a process 'exit' hook is the last resort).
 */
export class BatonCluster {
  readonly records: LogRecord[] = [];
  readonly disruptions: Disruption[] = [];
  readonly prefix = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  readonly leaseMs: number;
  readonly jobLockMs: number;
  readonly apiToken: string | undefined;
  private readonly processes = new Map<string, NodeProcess>();
  private readonly history: NodeProcess[] = [];
  private readonly proxies = new Map<string, TcpProxy>();
  private closed = false;

  private constructor(
    readonly redis: RedisServerHandle,
    private readonly ports: Map<string, number>,
    private readonly options: BatonClusterOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 2000;
    this.jobLockMs = options.jobLockMs ?? 2000;
    this.apiToken = options.apiToken === null ? undefined : (options.apiToken ?? randomBytes(8).toString('hex'));
  }

  /** create starts the redis-server and picks a free port per node; no node runs yet. */
  static async create(options: BatonClusterOptions = {}): Promise<BatonCluster> {
    const redis = await startRedisServer({ appendOnly: options.appendOnly ?? false });
    const ports = new Map<string, number>();
    for (const id of options.nodeIds ?? ['n1', 'n2', 'n3']) ports.set(id, await freePort());
    const cluster = new BatonCluster(redis, ports, options);
    live.add(cluster);
    if (options.proxied) {
      for (const id of ports.keys()) cluster.proxies.set(id, await TcpProxy.start({ port: redis.port }));
    }
    return cluster;
  }

  /** shutdownAll shuts down every cluster still alive (afterEach safety net), after `before(cluster)`; returns how many. */
  static async shutdownAll(before?: (cluster: BatonCluster) => void): Promise<number> {
    const open = [...live];
    open.forEach((c) => before?.(c));
    await Promise.all(open.map((c) => c.shutdown()));
    return open.length;
  }

  /** isClosed: shutdown() has run. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** ids: every configured node id. */
  get ids(): string[] {
    return [...this.ports.keys()];
  }

  /** node: the current process of `id` (the latest start), or throws. */
  node(id: string): NodeProcess {
    const proc = this.processes.get(id);
    if (!proc) throw new Error(`node ${id} was never started`);
    return proc;
  }

  /** running: ids whose current process is running (not paused, not exited). */
  running(): string[] {
    return this.ids.filter((id) => this.processes.get(id)?.state === 'running');
  }

  /** start spawns node `id` (again, after a kill or stop) with the contract's environment. */
  start(id: string): NodeProcess {
    this.assertOpen();
    const port = this.portOf(id);
    if (this.processes.get(id) && this.processes.get(id)!.state !== 'exited') throw new Error(`node ${id} is still running`);
    const entry = this.options.entry ?? DEFAULT_ENTRY;
    if (!existsSync(entry)) throw new Error(`${entry} does not exist: run \`npm run build\` before the cluster tests`);
    const proc = new NodeProcess({
      id,
      entry,
      cwd: ROOT,
      env: this.envFor(id, port),
      onRecord: (record) => this.records.push(record),
    });
    this.processes.set(id, proc);
    this.history.push(proc);
    this.note('start', id);
    return proc;
  }

  /** startAll starts every node and waits until each answers /health/ready. */
  async startAll(readyDeadlineMs = 30_000): Promise<void> {
    for (const id of this.ids) this.start(id);
    await Promise.all(this.ids.map((id) => this.waitReady(id, readyDeadlineMs)));
  }

  /** kill sends SIGKILL (after SIGCONT if paused) and waits for the exit. */
  async kill(id: string): Promise<void> {
    const proc = this.node(id);
    this.note('kill', id);
    proc.signal('SIGKILL'); // delivered to a stopped process too
    await proc.waitExit();
  }

  /** pause sends SIGSTOP: the process freezes with its sockets open. */
  pause(id: string): void {
    this.note('pause', id);
    this.node(id).signal('SIGSTOP');
  }

  /** resume sends SIGCONT. */
  resume(id: string): void {
    this.note('resume', id);
    this.node(id).signal('SIGCONT');
  }

  /** stop sends SIGTERM and waits for the exit; SIGKILLs and throws if it takes over `deadlineMs`. */
  async stop(id: string, deadlineMs = 15_000): Promise<void> {
    const proc = this.node(id);
    this.note('stop', id);
    proc.signal('SIGTERM');
    await waitUntil(() => proc.state === 'exited', { deadlineMs, what: `${id} to exit after SIGTERM` }).catch(
      async (err: Error) => {
        await this.kill(id);
        throw err;
      },
    );
    await proc.waitExit();
  }

  /** restartRedis stops the redis-server and starts it again on the same port (empty when wipeData). */
  async restartRedis(opts: { wipeData?: boolean; kill?: boolean } = {}): Promise<void> {
    this.note('redis-restart', 'redis');
    await this.redis.restart(opts);
  }

  /** proxy: the TcpProxy between node `id` and Redis (only with the `proxied` option). */
  proxy(id: string): TcpProxy {
    const proxy = this.proxies.get(id);
    if (!proxy) throw new Error(`node ${id} has no proxy: create the cluster with { proxied: true }`);
    return proxy;
  }

  /** cutRedis: node `id`'s connections to Redis are reset and new ones refused, until healRedis(id). */
  cutRedis(id: string): void {
    this.note('cut', id);
    this.proxy(id).cut();
  }

  /** blackholeRedis: node `id`'s Redis traffic is held (sockets stay open, nothing answers), until healRedis(id). */
  blackholeRedis(id: string): void {
    this.note('blackhole', id);
    this.proxy(id).blackhole();
  }

  /** slowRedis: adds `ms` to every round trip between node `id` and Redis (0 removes it). */
  slowRedis(id: string, ms: number): void {
    this.note('latency', id);
    this.proxy(id).latency(ms);
  }

  /** healRedis: node `id`'s proxy forwards again (held bytes first), with no latency. */
  healRedis(id: string): void {
    this.note('heal', id);
    this.proxy(id).heal();
  }

  /** api: an ApiClient for node `id` with the cluster's token. */
  api(id: string): ApiClient {
    return new ApiClient(this.portOf(id), this.apiToken);
  }

  /** waitReady polls GET /health/ready until 200; fails at once if the node exits. */
  async waitReady(id: string, deadlineMs = 30_000): Promise<void> {
    const api = this.api(id);
    await waitUntil(
      async () => (await api.get('/health/ready').catch(() => ({ status: 0 }))).status === 200,
      { deadlineMs, what: `${id} /health/ready`, abortIf: () => this.whyDead(id), explain: () => this.tailOf(id) },
    );
  }

  /** events: every captured record matching the filter, in arrival order. */
  events(filter?: RecordFilter): LogRecord[] {
    if (filter === undefined) return [...this.records];
    const match = typeof filter === 'string' ? (r: LogRecord) => r.event === filter : filter;
    return this.records.filter(match);
  }

  /** waitForEvent returns the first captured record (earlier ones count) matching the filter. */
  async waitForEvent(filter: RecordFilter, deadlineMs: number, what = String(filter)): Promise<LogRecord> {
    return waitUntil(() => this.events(filter)[0], {
      deadlineMs,
      what: `log event ${what}`,
      abortIf: () => (this.closed ? 'cluster shut down' : undefined),
      explain: () => this.recentEvents(),
    });
  }

  /** tailOf: the last lines of every process node `id` ran, for failure reports. */
  tailOf(id: string, lines = 40): string {
    const procs = this.history.filter((p) => p.id === id);
    return procs
      .map((p) => `----- ${id} pid ${p.pid} (${p.state}${p.exit ? ` ${JSON.stringify(p.exit)}` : ''}) -----\n${p.tail(lines)}`)
      .join('\n');
  }

  /** report: every node's log tail plus the disruptions, for a failed test. */
  report(lines = 40): string {
    const done = this.disruptions.map((d) => `${new Date(d.at).toISOString()} ${d.kind} ${d.id}`).join('\n');
    return [`prefix ${this.prefix}, redis ${this.redis.url}`, done, ...this.ids.map((id) => this.tailOf(id, lines))].join('\n');
  }

  /** shutdown SIGKILLs every process and the redis-server and waits for them. Safe to call twice. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    await Promise.all(
      this.history.map(async (p) => {
        p.signal('SIGKILL');
        await p.waitExit();
      }),
    );
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    await this.redis.cleanup();
  }

  /** killSync: last-resort synchronous SIGKILL of everything (process 'exit' hook). */
  killSync(): void {
    for (const p of this.history) p.signal('SIGKILL');
    try {
      process.kill(this.redis.pid(), 'SIGKILL');
    } catch {
      // already gone
    }
  }

  private envFor(id: string, port: number): NodeJS.ProcessEnv {
    // The children see only the contract's variables, not the test runner's (NODE_ENV=test, NODE_OPTIONS, ...).
    const inherited = Object.entries(process.env).filter(([k]) => !INHERIT_NOT.test(k));
    const env: NodeJS.ProcessEnv = Object.fromEntries(inherited);
    Object.assign(env, {
      REDIS_URL: this.redis.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      BATON_NODE_ID: id,
      BATON_PREFIX: this.prefix,
      BATON_LEASE_MS: String(this.leaseMs),
      BATON_JOB_LOCK_MS: String(this.jobLockMs),
      BATON_SHUTDOWN_GRACE_MS: String(this.options.shutdownGraceMs ?? 5000),
      BATON_WORKER_CONCURRENCY: String(this.options.workerConcurrency ?? 4),
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      ...this.options.env,
    });
    if (this.proxies.has(id) && !this.options.env?.REDIS_URL) env.REDIS_URL = this.proxies.get(id)!.url;
    if (this.apiToken) env.BATON_API_TOKEN = this.apiToken;
    else delete env.BATON_API_TOKEN;
    return env;
  }

  private portOf(id: string): number {
    const port = this.ports.get(id);
    if (port === undefined) throw new Error(`unknown node ${id}; nodes are ${this.ids.join(', ')}`);
    return port;
  }

  private whyDead(id: string): string | undefined {
    if (this.closed) return 'cluster shut down';
    const proc = this.processes.get(id);
    return proc?.state === 'exited' ? `node ${id} exited ${JSON.stringify(proc.exit)}\n${this.tailOf(id)}` : undefined;
  }

  private recentEvents(): string {
    const last = this.records.filter((r) => r.event).slice(-25);
    return 'last events:\n' + last.map((r) => `  ${r.source} ${r.event} ${JSON.stringify(omitBasics(r))}`).join('\n');
  }

  private note(kind: Disruption['kind'], id: string): void {
    this.disruptions.push({ kind, id, at: Date.now() });
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('cluster was shut down');
  }
}

function omitBasics(r: LogRecord): Record<string, unknown> {
  const { source, receivedAt, level, node, event, pid, hostname, ...rest } = r;
  void source, receivedAt, level, node, event, pid, hostname;
  return rest;
}

process.once('exit', () => {
  for (const cluster of live) cluster.killSync();
});
