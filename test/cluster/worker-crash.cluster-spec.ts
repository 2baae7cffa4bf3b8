import {
  everySecond,
  ownerOfConnection,
  putSchedule,
  shutdownScenarios,
  waitForElection,
  withCluster,
  type BatonCluster,
  type Delivery,
  type WebhookReceiver,
} from './harness';

// Real node processes of the built app (npm run build first).
const SLOW_MS = 3000;

/** onceAt: a 6-field UTC cron that fires at the given whole second once a day. */
function onceAt(epochMs: number): string {
  const d = new Date(epochMs);
  return `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} * * *`;
}

/** senderOf: the id of the running node whose process holds the delivery's connection (still waiting for its answer). */
function senderOf(cluster: BatonCluster, receiver: WebhookReceiver, delivery: Delivery): string | undefined {
  const live = cluster.running().map((id) => [id, cluster.node(id).pid!] as const);
  const pid = ownerOfConnection(delivery.remotePort, receiver.port, live.map(([, p]) => p));
  return live.find(([, p]) => p === pid)?.[0];
}

describe('a worker killed in the middle of a job', () => {
  afterEach(shutdownScenarios);

  it(
    'has the job run again and completed by another node after the job lock lapses',
    withCluster({ leaseMs: 2000, jobLockMs: 2000 }, async ({ cluster, receiver }) => {
      receiver.behave('/slow', { delayMs: SLOW_MS });
      await cluster.startAll();
      const elected = await waitForElection(cluster, 10_000);
      const fireAtMs = Math.ceil((Date.now() + 4000) / 1000) * 1000;
      await putSchedule(cluster, elected.source, 'slow', everySecond(receiver.url('/slow'), {
        cron: onceAt(fireAtMs),
        timeoutMs: 15_000,
      }));

      // 1. The first attempt arrives; find the node holding the connection and SIGKILL it.
      const first = await receiver.waitFor((ds) => ds.find((d) => d.body?.schedule === 'slow'), 15_000, 'the first attempt');
      expect(Date.parse(first.body.scheduledFor)).toBe(fireAtMs);
      const jobId = String(first.body.jobId);
      const victim = senderOf(cluster, receiver, first);
      if (!victim) throw new Error(`no node holds the connection from port ${first.remotePort} (the receiver answers after ${SLOW_MS} ms)`);
      const killedAt = Date.now();
      await cluster.kill(victim);
      console.log(`killed ${victim} (${victim === elected.source ? 'the leader' : 'a follower'}) while it ran ${jobId} (attempt ${first.body.attempt})`);

      // 2. Another node gets the job again (same job id and key) and completes it.
      const again = await receiver.waitFor(
        (ds) => ds.find((d) => d !== first && d.body?.jobId === jobId),
        cluster.jobLockMs + 18_000,
        `${jobId} delivered again`,
      );
      const rerunBy = senderOf(cluster, receiver, again);
      console.log(`${jobId} re-delivered ${again.receivedAt - killedAt} ms after the kill by ${rerunBy} (attempt ${again.body.attempt})`);
      expect(rerunBy).toBeDefined();
      expect(rerunBy).not.toBe(victim);
      expect(again.headers['idempotency-key']).toBe(jobId);
      expect(again.body.scheduledFor).toBe(first.body.scheduledFor);

      const completed = await cluster.waitForEvent(
        (r) => r.event === 'job.completed' && r.jobId === jobId,
        SLOW_MS + 10_000,
        `job.completed for ${jobId}`,
      );
      console.log(`${jobId} completed on ${completed.source} ${completed.receivedAt - killedAt} ms after the kill`);
      expect(completed.source).toBe(rerunBy);
      expect(completed.schedule).toBe('slow');
      expect(cluster.events((r) => r.event === 'job.completed' && r.jobId === jobId)).toHaveLength(1);
      expect(receiver.forSchedule('slow').map((d) => d.body.jobId)).toEqual([jobId, jobId]);
    }),
    90_000,
  );
});
