import { resolve } from 'node:path';
import {
  actingLeaderProblems,
  analyseTicks,
  earlyProblems,
  ownerOfConnection,
  shutdownScenarios,
  tickProblems,
  withCluster,
  type Delivery,
} from './harness';

// The harness tested on its own, with a stand-in node process (fixtures/fake-node.js)
// so it does not depend on the app being built.
const fake = { entry: resolve(__dirname, 'fixtures/fake-node.js'), nodeIds: ['a', 'b'] };

describe('cluster harness', () => {
  afterEach(shutdownScenarios);

  it(
    'starts nodes with the contract environment, captures their JSON logs and calls the API with the token',
    withCluster(fake, async ({ cluster }) => {
      await cluster.startAll();
      const started = await cluster.waitForEvent((r) => r.event === 'node.started' && r.source === 'b', 5000);
      expect(started.node).toBe('b');
      expect(started.time).toBeGreaterThan(Date.now() - 10_000);

      const who = await cluster.api('a').get('/api/whoami');
      expect(who.status).toBe(200);
      expect(who.body.env).toMatchObject({
        REDIS_URL: cluster.redis.url, HOST: '127.0.0.1', PORT: String(cluster.api('a').port), BATON_NODE_ID: 'a',
        BATON_PREFIX: cluster.prefix, BATON_LEASE_MS: '2000', BATON_JOB_LOCK_MS: '2000', LOG_FORMAT: 'json', LOG_LEVEL: 'info',
        BATON_API_TOKEN: cluster.apiToken,
      });
      expect(who.body.pid).toBe(cluster.node('a').pid);
      const anonymous = await fetch(`${cluster.api('a').baseUrl}/api/whoami`);
      expect(anonymous.status).toBe(401);
      expect(cluster.node('a').raw.some((l) => l.startsWith('[stderr] fake node a'))).toBe(true);
    }),
    30_000,
  );

  it(
    'pauses, resumes, kills and restarts a node under the same id and port',
    withCluster(fake, async ({ cluster }) => {
      await cluster.startAll();
      const ticks = () => cluster.events((r) => r.event === 'fake.tick' && r.source === 'a').length;
      await cluster.waitForEvent((r) => r.event === 'fake.tick' && r.source === 'a', 5000);
      cluster.pause('a');
      const frozen = ticks();
      const pausedAt = Date.now();
      await cluster.waitForEvent((r) => r.event === 'fake.tick' && r.source === 'b' && r.receivedAt > pausedAt + 500, 5000);
      expect(ticks()).toBeLessThanOrEqual(frozen + 1); // one line may have been in the pipe
      expect(cluster.node('a').state).toBe('paused');
      cluster.resume('a');
      await cluster.waitForEvent((r) => r.event === 'fake.tick' && r.source === 'a' && r.receivedAt > Date.now() - 50, 5000);

      const firstPid = cluster.node('a').pid;
      await cluster.kill('a');
      expect(cluster.node('a').exit).toEqual({ code: null, signal: 'SIGKILL' });
      expect(cluster.running()).toEqual(['b']);
      cluster.start('a');
      await cluster.waitReady('a', 10_000);
      expect(cluster.node('a').pid).not.toBe(firstPid);
      expect(cluster.events('node.started').filter((r) => r.source === 'a')).toHaveLength(2);
      expect(cluster.disruptions.map((d) => `${d.kind} ${d.id}`)).toEqual(
        ['start a', 'start b', 'pause a', 'resume a', 'kill a', 'start a'],
      );
    }),
    30_000,
  );

  it(
    'stops a node with SIGTERM, waits for its exit, and keeps every line it wrote',
    withCluster(fake, async ({ cluster }) => {
      await cluster.startAll();
      await cluster.stop('b');
      expect(cluster.node('b').exit).toEqual({ code: 0, signal: null });
      const order = cluster.events((r) => r.source === 'b' && String(r.event).startsWith('node.')).map((r) => r.event);
      expect(order).toEqual(['node.started', 'node.stopping', 'node.stopped']);
      expect(cluster.tailOf('b')).toContain('node.stopped');
    }),
    30_000,
  );

  it(
    'restarts its redis-server on the same port, empty when asked',
    withCluster({ ...fake, appendOnly: true }, async ({ cluster }) => {
      await cluster.startAll();
      const pid = cluster.redis.pid();
      const port = cluster.redis.port;
      await cluster.restartRedis({ wipeData: true });
      expect(cluster.redis.pid()).not.toBe(pid);
      expect(cluster.redis.port).toBe(port);
      await cluster.waitReady('a', 5000);
    }),
    30_000,
  );

  it(
    'records webhook deliveries and finds which node process holds the connection',
    withCluster(fake, async ({ cluster, receiver }) => {
      await cluster.startAll();
      receiver.behave('/slow', { delayMs: 2000 });
      const payload = { schedule: 's', jobId: 's@1', scheduledFor: new Date(1000).toISOString(), attempt: 1 };
      expect((await cluster.api('b').post('/api/send', { url: receiver.url('/slow/x'), payload })).status).toBe(202);
      const delivery = await receiver.waitFor((ds) => ds[0], 5000, 'a delivery');
      expect(delivery.headers['idempotency-key']).toBe('s@1');
      expect(delivery.answeredAt).toBeUndefined();
      const pids = cluster.ids.map((id) => cluster.node(id).pid!);
      expect(ownerOfConnection(delivery.remotePort, receiver.port, pids)).toBe(cluster.node('b').pid);
      await receiver.waitFor((ds) => ds[0].answeredAt, 5000, 'the delayed answer');
      expect(delivery.answeredAt! - delivery.receivedAt).toBeGreaterThanOrEqual(1900);
    }),
    30_000,
  );

  it('flags missing, doubled, wrongly keyed and unexplained repeated ticks', () => {
    const at = (s: number, jobId = `x@${s * 1000}`, key = jobId, receivedAt = 50_000 + s): Delivery => ({
      method: 'POST', path: '/', remotePort: 1, receivedAt,
      headers: { 'idempotency-key': key },
      body: { schedule: 'x', jobId, scheduledFor: new Date(s * 1000).toISOString(), attempt: 1 },
    });
    const deliveries = [at(1), at(2), at(2, 'other'), at(4, 'x@4000', 'wrong'), at(5), at(5, 'x@5000', 'x@5000', 90_000), at(6)];
    const report = analyseTicks(deliveries, 'x');
    expect(report.missing).toEqual([new Date(3000).toISOString()]);
    expect(tickProblems(report, [])).toEqual([
      'missing tick 1970-01-01T00:00:03.000Z',
      'tick 1970-01-01T00:00:02.000Z became 2 jobs: x@2000, other',
      'job x@4000 came with Idempotency-Key wrong',
      'job x@5000 delivered 2 times (attempts 1,1) with no fault near it',
    ]);
    expect(tickProblems(report, [{ kind: 'kill', id: 'n1', at: 50_500 }])).toHaveLength(3);
    // a slow link lasts until its heal: a redelivery 40 s into it is explained, one 5 s after the heal is not
    expect(tickProblems(report, [{ kind: 'latency', id: 'n1', at: 10_000 }, { kind: 'heal', id: 'n1', at: 60_000 }])).toHaveLength(3);
    expect(tickProblems(report, [{ kind: 'latency', id: 'n1', at: 10_000 }, { kind: 'heal', id: 'n1', at: 45_000 }])).toHaveLength(4);
    // so do a blocked event loop (until the test notes its end as a heal) and a paused process (until its resume)
    expect(tickProblems(report, [{ kind: 'block', id: 'n1', at: 49_000 }, { kind: 'heal', id: 'n1', at: 53_000 }])).toHaveLength(3);
    expect(tickProblems(report, [{ kind: 'block', id: 'n1', at: 40_000 }, { kind: 'heal', id: 'n1', at: 44_000 }])).toHaveLength(4);
    expect(tickProblems(report, [{ kind: 'pause', id: 'n1', at: 49_000 }, { kind: 'resume', id: 'n1', at: 53_000 }])).toHaveLength(3);
    expect(tickProblems(report, [{ kind: 'pause', id: 'n1', at: 40_000 }, { kind: 'resume', id: 'n1', at: 44_000 }])).toHaveLength(4);
  });

  it('flags a tick delivered before its instant', () => {
    const d = (s: number, receivedAt: number): Delivery => ({
      method: 'POST', path: '/', remotePort: 1, receivedAt, headers: {},
      body: { schedule: 'x', jobId: `x@${s * 1000}`, scheduledFor: new Date(s * 1000).toISOString(), attempt: 1 },
    });
    expect(earlyProblems([d(1, 1000), d(2, 2003), d(3, 2990)], 'x')).toEqual([
      'x 1970-01-01T00:00:03.000Z was delivered 10 ms before its instant',
    ]);
    expect(earlyProblems([d(3, 2990)], 'other')).toEqual([]);
  });

  it('flags a schedule.fired from a node that was not, or no longer, the elected leader', () => {
    const rec = (source: string, event: string, time: number, facts: Record<string, unknown> = {}) =>
      ({ source, node: source, event, time, receivedAt: time, ...facts });
    const records = [
      rec('a', 'leader.elected', 100, { term: 1 }), rec('a', 'schedule.fired', 150, { schedule: 's', scheduledFor: 'x1' }),
      rec('b', 'schedule.fired', 160, { schedule: 's', scheduledFor: 'x2' }),
      rec('b', 'leader.elected', 200, { term: 2 }), rec('b', 'schedule.fired', 200, { schedule: 's', scheduledFor: 'x3' }),
      rec('a', 'schedule.fired', 250, { schedule: 's', scheduledFor: 'x4' }),
    ];
    expect(actingLeaderProblems(records)).toEqual([
      'b fired s for x2 at 160 without ever having been elected',
      'a fired s for x4 at 250, after b was elected (term 2) at 200',
    ]);
  });
});
