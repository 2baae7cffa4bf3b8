import {
  actingLeaderProblems,
  clusterView,
  firstInstant,
  instantOf,
  shutdownScenarios,
  startTicking,
  term,
  verifyTicks,
  waitForElection,
  waitUntil,
  withCluster,
} from './harness';

// Real node processes of the built app (npm run build first), two nodes each.
const options = { leaseMs: 2000, jobLockMs: 2000, nodeIds: ['n1', 'n2'] };

describe('a cluster across a Redis restart', () => {
  afterEach(shutdownScenarios);

  it(
    're-elects with a strictly higher term after Redis comes back empty',
    withCluster(options, async (ctx) => {
      const { cluster } = ctx;
      const first = await startTicking(ctx, 'tick', 2);
      const restartedAt = Date.now();
      await cluster.restartRedis({ wipeData: true });

      const next = await waitForElection(cluster, 20_000, { aboveTerm: term(first) });
      console.log(
        `re-election after Redis lost its data: ${next.time - restartedAt} ms, leader ${first.source} -> ${next.source}, ` +
          `term ${term(first)} -> ${term(next)}`,
      );
      // No election in between reused or lowered a term.
      const terms = cluster.events('leader.elected').map(term);
      expect(terms).toEqual([...terms].sort((a, b) => a - b));
      expect(new Set(terms).size).toBe(terms.length);
      const view = await waitUntil(
        async () => {
          const v = await clusterView(cluster, 'n1').catch(() => undefined);
          return v?.leader && Number(v.leader.term) > term(first) ? v : undefined;
        },
        { deadlineMs: 10_000, what: 'GET /api/cluster to show the new term' },
      );
      expect(view.leader!.nodeId).toBe(next.source);
      await cluster.waitReady('n1', 10_000);
      await cluster.waitReady('n2', 10_000);
      expect(actingLeaderProblems(cluster.records)).toEqual([]);
    }),
    90_000,
  );

  it(
    'keeps its schedules through a restart of an AOF Redis, and the ticks continue with none doubled',
    withCluster({ ...options, appendOnly: true }, async (ctx) => {
      const { cluster, receiver } = ctx;
      await startTicking(ctx, 'tick', 2);
      await cluster.restartRedis();
      const backAt = Date.now();

      const listed = await waitUntil(
        async () => {
          const res = await cluster.api('n2').get('/api/schedules').catch(() => undefined);
          return res?.status === 200 && res.body;
        },
        { deadlineMs: 10_000, what: 'GET /api/schedules after the restart' },
      );
      const names = (Array.isArray(listed) ? listed : (listed.items ?? listed.schedules ?? [])).map((s: any) => s.name);
      expect(names).toContain('tick');

      const target = Math.ceil(backAt / 1000) * 1000 + 3000;
      await receiver.waitFor((ds) => ds.some((d) => d.body?.schedule === 'tick' && instantOf(d) >= target), 15_000, 'ticks after the restart');
      const window = { fromMs: firstInstant(receiver.deliveries, 'tick')!, toMs: target };
      const { report, problems } = await verifyTicks(receiver, cluster.disruptions, 'tick', window);
      console.log(`AOF restart: ${report.instants.length} instants up to ${new Date(target).toISOString()}, missing ${report.missing.length}`);
      expect(problems).toEqual([]);
      expect(actingLeaderProblems(cluster.records)).toEqual([]);
    }),
    90_000,
  );
});
