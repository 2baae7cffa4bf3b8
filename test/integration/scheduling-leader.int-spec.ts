import type { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { getTasks } from 'node-cron';
import { batonKeys, type EventLogger } from '@lib/common';
import {
  FencedEnqueuer, LeaderScheduler, ScheduleStore, fencedConnectionOptions, validateScheduleInput, type ScheduleSpec,
  type LagReport,
} from '@lib/scheduling';
import { connectTo, startRedisServer, type RedisServerHandle } from '../support/redis-server';

interface Logged { event: string; facts: Record<string, unknown> }

function spec(name: string, extra: Record<string, unknown> = {}): ScheduleSpec {
  const result = validateScheduleInput({ name, cron: '* * * * * *', handler: 'log', ...extra }, { handlers: new Set(['log']) });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
}

type Falsy = false | null | undefined | 0 | '';
async function until<T>(probe: () => T | Falsy | Promise<T | Falsy>, deadlineMs = 8000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value) return value as T;
    if (Date.now() > end) throw new Error('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LeaderScheduler on a real Redis', () => {
  let server: RedisServerHandle;
  let admin: Redis;
  let fenced: Redis;
  let subscriber: Redis;
  let queue: Queue;
  let store: ScheduleStore;
  let keys: ReturnType<typeof batonKeys>;
  let logged: Logged[];
  let scheduler: LeaderScheduler;
  let controller: AbortController;
  let leading: Promise<void> | undefined;
  let fencedOff: string[];
  let seq = 0;

  beforeAll(async () => {
    server = await startRedisServer();
    admin = await connectTo(server);
  });
  afterAll(async () => {
    await admin.quit();
    await server.cleanup();
  });
  beforeEach(async () => {
    const prefix = `lead-${++seq}`;
    keys = batonKeys(prefix);
    fenced = await connectTo(server, fencedConnectionOptions);
    subscriber = await connectTo(server);
    queue = new Queue(keys.queueName, { connection: fenced, prefix: keys.tag });
    store = new ScheduleStore({ redis: admin, prefix });
    logged = [];
    fencedOff = [];
    const logger: EventLogger = { log: (_level, event, _msg, facts = {}) => logged.push({ event, facts }) };
    const enqueuer = new FencedEnqueuer({ redis: fenced, queue, prefix, promoter: admin });
    scheduler = new LeaderScheduler({ store, enqueuer, logger, subscriber, onFencedOff: (r) => fencedOff.push(r) });
    await admin.set(keys.leader, '1:node-a', 'PX', 60_000);
    controller = new AbortController();
    leading = undefined;
  });
  afterEach(async () => {
    controller.abort();
    await leading;
    await queue.close();
    await fenced.quit();
    await subscriber.quit();
    const found = await admin.keys(`${keys.tag}:*`);
    if (found.length) await admin.del(...found);
  });

  const lead = () => {
    leading = scheduler.lead({ token: 1, leaseValue: '1:node-a', signal: controller.signal, isValid: () => true });
    return leading;
  };
  const runs = async (name: string) => (await admin.zrange(keys.runs(name), '0', '-1', 'WITHSCORES'))
    .filter((_, i) => i % 2 === 1).map(Number);
  const events = (event: string, schedule?: string) =>
    logged.filter((l) => l.event === event && (schedule === undefined || l.facts.schedule === schedule));
  /** Waits until early in a second, so a setup spanning a few ms stays within one second. */
  const earlyInSecond = async () => until(() => Date.now() % 1000 < 150, 2000);

  it('enqueues an every-second schedule at consecutive seconds, without gaps or duplicates', async () => {
    const created = await store.create(spec('every'));
    void lead();
    await until(() => events('schedule.fired', 'every').length >= 2); // ticks are written ahead, and fire at their instant
    const scores = await runs('every');
    for (let i = 1; i < scores.length; i++) expect(scores[i] - scores[i - 1]).toBe(1000);
    expect(scores[0]).toBeGreaterThan(Date.parse(created.createdAt));
    const fired = events('schedule.fired', 'every').map((l) => l.facts.jobId);
    expect(new Set(fired).size).toBe(fired.length);
    expect(events('schedule.fired', 'every')[0].facts).toMatchObject({ scheduledFor: new Date(scores[0]).toISOString() });
    expect(typeof events('schedule.fired')[0].facts.lagMs).toBe('number');
    expect(await queue.getJobCountByTypes('waiting', 'delayed')).toBe((await runs('every')).length);
  });

  it('reports each instant it moved to wait, with its lag, to onLag listeners until they unsubscribe', async () => {
    await Promise.all(['p1', 'p2', 'p3'].map((name) => store.create(spec(name))));
    const reports: LagReport[] = [];
    const unsubscribe = scheduler.onLag((r) => { if (!r.ahead) reports.push(r); }); // (writes ahead: the unit test)
    scheduler.onLag(() => { throw new Error('a listener that throws'); });
    void lead();
    await until(() => reports.length >= 2);
    unsubscribe();
    const heard = reports.length;
    for (const r of reports) {
      expect(r.atMs % 1000).toBe(0);
      expect(r.count).toBe(3);
      expect(r.lagMs).toBe(r.readyAtMs - r.atMs);
      expect(r.lagMs).toBeGreaterThanOrEqual(0); // never early
      const fired = events('schedule.fired').filter((l) => l.facts.scheduledFor === new Date(r.atMs).toISOString());
      expect(fired.map((l) => l.facts.schedule).sort()).toEqual(['p1', 'p2', 'p3']);
      expect(fired.every((l) => l.facts.lagMs === r.lagMs)).toBe(true);
    }
    await until(() => events('schedule.fired').length >= 3 * (heard + 2)); // it goes on scheduling
    expect(reports).toHaveLength(heard);
  });

  it('catches up the ticks missed during an outage per misfire policy all, latest and none', async () => {
    await store.create(spec('m-all', { misfire: 'all' }));
    await store.create(spec('m-latest', { misfire: 'latest' }));
    await store.create(spec('m-none', { misfire: 'none' }));
    await earlyInSecond();
    const s = Math.floor(Date.now() / 1000) * 1000;
    await admin.hset(keys.cursor, 'm-all', s - 5000, 'm-latest', s - 5000, 'm-none', s - 5000);
    void lead();
    await until(() => events('schedule.caught-up', 'm-latest').length > 0);
    expect((await runs('m-all')).filter((at) => at <= s)).toEqual([s - 4000, s - 3000, s - 2000, s - 1000, s]);
    expect((await runs('m-latest')).filter((at) => at <= s)).toEqual([s]);
    expect((await runs('m-none')).filter((at) => at <= s)).toEqual([]);
    expect(events('schedule.caught-up').map((l) => l.facts).sort((a, b) => String(a.schedule).localeCompare(String(b.schedule))))
      .toEqual([{ schedule: 'm-all', count: 5 }, { schedule: 'm-latest', count: 1 }]);
    // ticks after the takeover are live for every policy
    await until(async () => (await runs('m-none')).some((at) => at > s));
  });

  it('never enqueues a tick older than the catch-up window', async () => {
    const short = new LeaderScheduler({
      store, enqueuer: new FencedEnqueuer({ redis: fenced, queue, prefix: keys.tag.slice(1, -1) }), catchUpWindowMs: 2000,
    });
    await store.create(spec('windowed'));
    await earlyInSecond();
    const s = Math.floor(Date.now() / 1000) * 1000;
    await admin.hset(keys.cursor, 'windowed', s - 10_000);
    leading = short.lead({ token: 1, leaseValue: '1:node-a', signal: controller.signal, isValid: () => true });
    await until(async () => (await runs('windowed')).length > 0);
    expect(Math.min(...(await runs('windowed')))).toBe(s - 1000);
  });

  it('stops enqueueing and destroys its node-cron tasks as soon as the signal aborts', async () => {
    const tasksBefore = getTasks().size;
    await store.create(spec('stopper'));
    void lead();
    await until(async () => (await runs('stopper')).length >= 1);
    expect(getTasks().size).toBe(tasksBefore + 1);
    controller.abort();
    await leading;
    expect(getTasks().size).toBe(tasksBefore);
    const count = (await runs('stopper')).length;
    await sleep(1500); // proving an absence needs a wait: at least one more tick would have fired
    expect((await runs('stopper')).length).toBe(count);
  });

  it('picks up schedules created while leading and enqueues nothing of a deleted or paused one afterwards', async () => {
    await store.create(spec('anchor', { cron: '0 0 1 1 *' }));
    void lead();
    await until(() => logged.length >= 0 && admin.pubsub('NUMSUB', keys.schedulesChannel).then((r) => Number(r[1]) > 0));
    await sleep(100); // let the first load finish, so the new schedules can only arrive as change messages
    await store.create(spec('late'));
    await store.create(spec('paused-later', { cron: '*/1 * * * * *' }));
    await until(async () => (await runs('late')).length >= 1 && (await runs('paused-later')).length >= 1);
    await store.delete('late');
    await store.setPaused('paused-later', true);
    const lateCount = (await runs('late')).length;
    const pausedCount = (await runs('paused-later')).length;
    await sleep(1500);
    expect((await runs('late')).length).toBe(lateCount);
    expect((await runs('paused-later')).length).toBe(pausedCount);
  });

  it('stops by itself when Redis shows the lease is no longer its own', async () => {
    await store.create(spec('fenced'));
    const done = lead();
    await until(async () => (await runs('fenced')).length >= 1);
    await admin.set(keys.leader, '2:node-b', 'PX', 60_000);
    await done;
    expect(fencedOff).toEqual(['fenced-off']);
    expect(events('schedule.fenced-off')).toHaveLength(1);
  });

  it('serves 1,000 schedules of one cron with a single node-cron task', async () => {
    const tasksBefore = getTasks().size;
    for (let i = 0; i < 1000; i += 100) {
      const multi = admin.multi();
      for (let j = i; j < i + 100; j++) {
        const stored = { ...spec(`many-${j}`, { cron: '*/2 * * * * *' }), createdAt: new Date().toISOString() }; // as the store writes it
        multi.hset(keys.schedules, `many-${j}`, JSON.stringify(stored));
      }
      await multi.exec();
    }
    const leadAt = Date.now();
    void lead();
    // the first instant after the takeover is owed by all 1,000 (an earlier one only by those created before it)
    const firstLive = () => {
      let min = Infinity;
      for (const l of events('schedule.fired')) { const at = Date.parse(String(l.facts.scheduledFor)); if (at > leadAt && at < min) min = at; }
      return min === Infinity ? null : min;
    };
    const firedFor = (at: number | null) => events('schedule.fired').filter((l) => Date.parse(String(l.facts.scheduledFor)) === at).length;
    await until(() => firedFor(firstLive()) >= 1000, 10_000);
    expect(getTasks().size).toBe(tasksBefore + 1);
    const first = new Date(firstLive()!).toISOString();
    expect(events('schedule.fired').filter((l) => l.facts.scheduledFor === first)).toHaveLength(1000);
  }, 30_000);
});
