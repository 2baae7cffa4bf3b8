import {
  everySecond,
  putSchedule,
  shutdownScenarios,
  sleep,
  verifyTicks,
  waitForElection,
  withCluster,
} from './harness';

// Schedule changes while the leader enqueues: every PUT bumps the schedules
// revision the enqueuer's batches are fenced by, so they come back stale and
// the leader reloads and recomputes. Ticks must keep flowing once the churn stops.
const LEASE_MS = 2000;

describe('chaos: schedule churn during the first enqueues', () => {
  afterEach(shutdownScenarios);

  it(
    'keeps enqueueing after transactions aborted by concurrent schedule changes (every tick after the churn arrives)',
    withCluster({ leaseMs: LEASE_MS, nodeIds: ['n1', 'n2'] }, async (ctx) => {
      const { cluster, receiver } = ctx;
      await cluster.startAll();
      const elected = await waitForElection(cluster, 10_000);
      const via = cluster.ids.find((id) => id !== elected.source)!;
      await putSchedule(cluster, via, 'tick', everySecond(receiver.url('/hook/tick')));
      // 4 s of back-to-back schedule changes, from the first tick on.
      const churnUntil = Date.now() + 4000;
      let puts = 0;
      while (Date.now() < churnUntil) {
        await Promise.all([0, 1, 2].map((i) => putSchedule(cluster, i % 2 ? via : elected.source, `churn-${i}`, {
          cron: '0 0 1 1 *', handler: 'log', data: { n: puts++ },
        })));
      }
      const afterChurn = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      await sleep(5000);
      const failures = cluster.events('schedule.enqueue-failed');
      const { report, problems } = await verifyTicks(receiver, cluster.disruptions, 'tick', { fromMs: afterChurn, toMs: afterChurn + 3000 }, 5000);
      console.log(
        `${puts} schedule changes in 4 s: ${report.instants.length} of 4 ticks after the churn delivered; ` +
          `${failures.length} schedule.enqueue-failed (${[...new Set(failures.map((f) => String(f.error)))].join('; ')})`,
      );
      expect(problems).toEqual([]);
    }),
    60_000,
  );
});
