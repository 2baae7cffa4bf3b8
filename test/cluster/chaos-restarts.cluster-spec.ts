import {
  everySecond,
  putSchedule,
  runFigures,
  settleAndCheck,
  shutdownScenarios,
  startTicking,
  term,
  termProblems,
  verifyTicks,
  waitForElection,
  withCluster,
  actingLeaderProblems,
  tokenOrderProblems,
  untilTime,
} from './harness';

// Real node processes of the built app (npm run build first).
const LEASE_MS = 2000;

describe('chaos: restarts', () => {
  afterEach(shutdownScenarios);

  it(
    'an AOF Redis killed and restarted under a ticking leader loses no tick, doubles none, and terms keep rising',
    withCluster({ leaseMs: LEASE_MS, nodeIds: ['n1', 'n2'], appendOnly: true }, async (ctx) => {
      const { cluster, receiver } = ctx;
      const first = await startTicking(ctx, 'tick', 2);
      await cluster.restartRedis({ kill: true });
      const backAt = Date.now();
      const next = await waitForElection(cluster, 3000, { aboveTerm: term(first) }).catch(() => undefined);
      const check = await settleAndCheck(cluster, receiver, 'tick', backAt + 4000);
      console.log(
        `AOF Redis SIGKILL + restart: leader ${first.source}:${term(first)} -> ${next ? `${next.source}:${term(next)}` : 'kept'}, ` +
          JSON.stringify(runFigures(cluster, check, check.window.fromMs, check.window.toMs)),
      );
      expect(check.problems).toEqual([]);
    }),
    60_000,
  );

  it(
    'after Redis comes back empty, terms rise above every earlier one and a re-created schedule ticks exactly once from then on',
    withCluster({ leaseMs: LEASE_MS, nodeIds: ['n1', 'n2'] }, async (ctx) => {
      const { cluster, receiver } = ctx;
      const first = await startTicking(ctx, 'tick', 2);
      const wipedAt = Date.now();
      await cluster.restartRedis({ wipeData: true });
      const next = await waitForElection(cluster, 15_000, { aboveTerm: term(first) });
      // The schedules went with the data: an operator puts them back.
      await putSchedule(cluster, 'n1', 'tick', everySecond(receiver.url('/hook/tick')));
      const putAt = Date.now();
      const beforeWipe = await verifyTicks(receiver, cluster.disruptions, 'tick', {
        fromMs: Math.min(...receiver.forSchedule('tick').map((d) => Date.parse(d.body.scheduledFor))),
        toMs: Math.floor(wipedAt / 1000) * 1000 - 1000,
      });
      await untilTime(putAt + 4000);
      const after = await verifyTicks(receiver, cluster.disruptions, 'tick', {
        fromMs: Math.ceil(putAt / 1000) * 1000 + 1000,
        toMs: Math.floor(Date.now() / 1000) * 1000 - 1000,
      });
      console.log(
        `Redis wiped: term ${term(first)} -> ${term(next)} on ${next.source} after ${next.time - wipedAt} ms; ` +
          `${beforeWipe.report.instants.length} instants before, ${after.report.instants.length} after the re-PUT`,
      );
      expect(term(next)).toBeGreaterThan(term(first));
      expect(termProblems(cluster.records)).toEqual([]);
      expect(actingLeaderProblems(cluster.records)).toEqual([]);
      expect(beforeWipe.problems).toEqual([]);
      expect(after.problems).toEqual([]);
      expect(tokenOrderProblems(receiver.deliveries, 'tick')).toEqual([]);
    }),
    60_000,
  );

  it(
    'a rolling restart of every node, twice (SIGTERM, back and ready, next), loses and doubles no tick',
    withCluster({ leaseMs: LEASE_MS }, async (ctx) => {
      const { cluster, receiver } = ctx;
      await startTicking(ctx, 'tick', 2);
      const startedAt = Date.now();
      for (let round = 0; round < 2; round++) {
        for (const id of cluster.ids) {
          await cluster.stop(id);
          cluster.start(id);
          await cluster.waitReady(id, 20_000);
        }
      }
      const check = await settleAndCheck(cluster, receiver, 'tick', Date.now() + 2000);
      const figures = runFigures(cluster, check, startedAt, check.window.toMs);
      console.log(`rolling restart x2 of ${cluster.ids.length} nodes in ${Date.now() - startedAt} ms: ${JSON.stringify(figures)}`);
      expect(check.problems).toEqual([]);
      expect(cluster.events('leader.resigned').length).toBeGreaterThanOrEqual(2);
    }),
    90_000,
  );
});
