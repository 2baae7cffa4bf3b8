import { fencedConnectionOptions } from '@lib/scheduling';
import { Redis, type RedisOptions } from 'ioredis';

/** ConnectionRole: each role gets its own connection so that one cannot stall another. */
export type ConnectionRole = 'commands' | 'election' | 'election-sub' | 'schedules-sub' | 'enqueuer';

const ROLE_OPTIONS: Record<ConnectionRole, RedisOptions> = {
  // API and store: fail a request fast rather than hang (→ 503), also when
  // Redis accepts the connection but does not answer (paused, black-holed).
  commands: { maxRetriesPerRequest: 1, commandTimeout: 3000 },
  // The elector keeps its own deadlines on a monotonic clock; it never waits on ioredis retries.
  election: { maxRetriesPerRequest: 1 },
  'election-sub': { maxRetriesPerRequest: null },
  'schedules-sub': { maxRetriesPerRequest: null },
  // The leader's fenced writes: a connection nobody else waits behind, and one that
  // fails a batch in flight across a reconnect instead of replaying it later.
  enqueuer: { ...fencedConnectionOptions },
};

/**
 * RedisConnections opens one ioredis connection per role (lazily) to the
 * node's REDIS_URL and closes them all at shutdown. Connection errors are
 * logged once per outage, not once per retry.
 */
export class RedisConnections {
  private readonly clients = new Map<ConnectionRole, Redis>();

  constructor(
    private readonly url: string,
    private readonly onError: (role: ConnectionRole, err: Error) => void,
    private readonly connectionName = 'baton',
  ) {}

  /** get returns the connection of a role, opening it on first use. */
  get(role: ConnectionRole): Redis {
    let client = this.clients.get(role);
    if (!client) {
      client = new Redis(this.url, {
        connectionName: `${this.connectionName}:${role}`,
        connectTimeout: 5000,
        retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000) + Math.floor(Math.random() * 100),
        ...ROLE_OPTIONS[role],
      });
      let reported = false;
      client.on('error', (err: Error) => {
        if (!reported) this.onError(role, err);
        reported = true;
      });
      client.on('ready', () => { reported = false; });
      this.clients.set(role, client);
    }
    return client;
  }

  /** closeAll quits every open connection (disconnects those that do not answer in 1 s). */
  async closeAll(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map(async (c) => {
      const timer = setTimeout(() => c.disconnect(), 1000);
      try { await c.quit(); } catch { c.disconnect(); } finally { clearTimeout(timer); }
    }));
  }
}
