import {
  actingLeaderProblems,
  firstInstant,
  shutdownScenarios,
  startTicking,
  term,
  untilTime,
  verifyTicks,
  waitForElection,
  withCluster,
  type ScenarioContext,
} from './harness';

// Real node processes of the built app (npm run build first). Every test runs an
// every-second `http` schedule against the receiver and checks each instant
// between the first delivery and a point well after the disruption arrived
// exactly once, with Idempotency-Key equal to the jobId.
const LEASE_MS = 2000;
const options = { leaseMs: LEASE_MS, jobLockMs: 2000 };

/** checkWholeRun waits for every instant from the first delivery up to `untilEpochMs` and returns the run's tick problems. */
async function checkWholeRun({ cluster, receiver }: ScenarioContext, schedule: string, untilEpochMs: number) {
  const fromMs = firstInstant(receiver.deliveries, schedule)!;
  const toMs = Math.floor(untilEpochMs / 1000) * 1000;
  const { report, problems } = await verifyTicks(receiver, cluster.disruptions, schedule, { fromMs, toMs }, toMs - Date.now() + 10_000);
  console.log(
    `${schedule}: ${report.instants.length} instants from ${new Date(fromMs).toISOString()} to ${new Date(toMs).toISOString()}, ` +
      `${report.redelivered.length} redelivered job(s) explained by a crash`,
  );
  return problems;
}

describe('leader failover with a ticking schedule', () => {
  afterEach(shutdownScenarios);

  it(
    'elects a new leader with a higher term within lease + 1.5 s of a SIGKILL, and delivers every second exactly once',
    withCluster(options, async (ctx) => {
      const { cluster } = ctx;
      const first = await startTicking(ctx, 'tick');
      const killedAt = Date.now();
      await cluster.kill(first.source);

      const next = await waitForElection(cluster, LEASE_MS + 8000, { aboveTerm: term(first), notBy: first.source });
      const failoverMs = next.time - killedAt;
      console.log(
        `failover after SIGKILL of leader ${first.source}: ${failoverMs} ms to leader.elected on ${next.source} ` +
          `(term ${term(first)} -> ${term(next)}, leaderlessMs ${next.leaderlessMs}, lease ${LEASE_MS} ms)`,
      );
      expect(failoverMs).toBeLessThan(LEASE_MS + 1500);
      expect(next.previousLeader).toBe(first.source);

      expect(await checkWholeRun(ctx, 'tick', next.time + 4000)).toEqual([]);
      expect(actingLeaderProblems(cluster.records)).toEqual([]);
    }),
    90_000,
  );

  it(
    'moves leadership away from a leader paused for two leases; on SIGCONT it logs leader.lost and fires nothing twice',
    withCluster(options, async (ctx) => {
      const { cluster } = ctx;
      const first = await startTicking(ctx, 'tick');
      const stale = first.source;
      const pausedAt = Date.now();
      cluster.pause(stale);

      const next = await waitForElection(cluster, 2 * LEASE_MS + 8000, { aboveTerm: term(first), notBy: stale });
      console.log(`takeover from paused leader ${stale}: ${next.time - pausedAt} ms to leader.elected on ${next.source}`);
      expect(next.time - pausedAt).toBeLessThan(LEASE_MS + 1500);
      await untilTime(pausedAt + 2 * LEASE_MS);
      const resumedAt = Date.now();
      cluster.resume(stale);

      const lost = await cluster.waitForEvent(
        (r) => r.event === 'leader.lost' && r.source === stale && term(r) === term(first),
        5000,
        `leader.lost from the resumed ${stale}`,
      );
      console.log(`resumed ${stale} logged leader.lost ${lost.receivedAt - resumedAt} ms after SIGCONT (reason ${lost.reason})`);
      expect(await checkWholeRun(ctx, 'tick', resumedAt + 4000)).toEqual([]);
      expect(actingLeaderProblems(cluster.records)).toEqual([]);
      // Whatever its cron tasks tried after SIGCONT, the stale leader enqueued nothing.
      const staleFires = cluster.events((r) => r.event === 'schedule.fired' && r.source === stale && r.receivedAt > resumedAt);
      expect(staleFires).toEqual([]);
      expect(cluster.events((r) => r.event === 'leader.elected' && r.source === stale)).toHaveLength(1);
    }),
    90_000,
  );

  it(
    'hands over in well under a lease when the leader gets SIGTERM, and delivers every second exactly once',
    withCluster(options, async (ctx) => {
      const { cluster } = ctx;
      const first = await startTicking(ctx, 'tick');
      const stopped = cluster.stop(first.source).then(() => undefined, (err: Error) => err);

      const next = await waitForElection(cluster, LEASE_MS + 8000, { aboveTerm: term(first), notBy: first.source });
      const stopError = await stopped;
      if (stopError) throw stopError;
      const stopping = cluster.events((r) => r.event === 'node.stopping' && r.source === first.source)[0];
      expect(stopping).toBeDefined();
      const handoverMs = next.time - stopping.time;
      console.log(
        `handover after SIGTERM of leader ${first.source}: ${handoverMs} ms from node.stopping to leader.elected on ` +
          `${next.source} (term ${term(first)} -> ${term(next)}, leaderlessMs ${next.leaderlessMs})`,
      );
      expect(handoverMs).toBeLessThan(LEASE_MS / 2);
      expect(cluster.events((r) => r.event === 'leader.resigned' && r.source === first.source)).toHaveLength(1);
      expect(cluster.node(first.source).exit).toEqual({ code: 0, signal: null });

      expect(await checkWholeRun(ctx, 'tick', next.time + 4000)).toEqual([]);
      expect(actingLeaderProblems(cluster.records)).toEqual([]);
    }),
    90_000,
  );
});
