import { BatonCluster, type BatonClusterOptions } from './baton-cluster';
import type { LogRecord } from './node-process';
import { WebhookReceiver } from './webhook-receiver';

/** ScenarioContext: what a scenario body gets: a cluster (nodes not started yet) and a receiver. */
export interface ScenarioContext {
  cluster: BatonCluster;
  receiver: WebhookReceiver;
}

const receivers = new Set<WebhookReceiver>();

/**
 * withCluster wraps a test body: it starts a WebhookReceiver and a
 * BatonCluster (redis only; the body starts the nodes), prints the cluster's
 * log tails when the body fails, and always shuts both down.
 * Use as `it(name, withCluster(options, async ({ cluster, receiver }) => ...), timeoutMs)`.
 */
export function withCluster(
  options: BatonClusterOptions,
  body: (ctx: ScenarioContext) => Promise<void>,
): () => Promise<void> {
  return async () => {
    const receiver = await WebhookReceiver.start();
    receivers.add(receiver);
    const cluster = await BatonCluster.create(options);
    try {
      await body({ cluster, receiver });
    } catch (err) {
      // A cluster already shut down by shutdownScenarios() had its report printed there.
      if (!cluster.isClosed) console.error(`cluster scenario failed: ${(err as Error).message}\n${cluster.report()}`);
      throw err;
    } finally {
      await cluster.shutdown();
      receivers.delete(receiver);
      await receiver.close();
    }
  };
}

/**
 * shutdownScenarios is the afterEach safety net: kills clusters and closes
 * receivers a timed-out test left behind, printing their log tails first.
 */
export async function shutdownScenarios(): Promise<void> {
  const open = [...receivers];
  receivers.clear();
  await Promise.all(open.map((r) => r.close()));
  await BatonCluster.shutdownAll((cluster) =>
    console.error(`cluster left running by a failed or timed-out test:\n${cluster.report()}`),
  );
}

/** everySecond: an `http` schedule ticking every second, POSTing to `url` (misfire all, 3 attempts). */
export function everySecond(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cron: '*/1 * * * * *',
    timezone: 'UTC',
    handler: 'http',
    data: { url, method: 'POST', body: { from: 'cluster-test' } },
    attempts: 3,
    backoff: { type: 'fixed', delayMs: 200 },
    timeoutMs: 5000,
    overlap: 'allow',
    misfire: 'all',
    ...extra,
  };
}

/** putSchedule PUTs a schedule through node `id`'s API and expects 200/201. */
export async function putSchedule(cluster: BatonCluster, id: string, name: string, schedule: object): Promise<void> {
  const res = await cluster.api(id).put(`/api/schedules/${name}`, schedule);
  if (res.status !== 200 && res.status !== 201) {
    throw new Error(`PUT /api/schedules/${name} on ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
}

/** term: a record's `term` fact as a number (NaN when absent). */
export function term(record: LogRecord): number {
  return Number(record.term);
}

/**
 * waitForElection waits for a `leader.elected` logged by a node other than
 * `notBy`, with a term above `aboveTerm` (defaults: any node, any term).
 */
export function waitForElection(
  cluster: BatonCluster,
  deadlineMs: number,
  filter: { aboveTerm?: number; notBy?: string } = {},
): Promise<LogRecord> {
  const above = filter.aboveTerm ?? -Infinity;
  return cluster.waitForEvent(
    (r) => r.event === 'leader.elected' && r.source !== filter.notBy && term(r) > above,
    deadlineMs,
    `leader.elected${filter.notBy ? ` not by ${filter.notBy}` : ''} with term > ${above}`,
  );
}

/** ClusterView: the body of GET /api/cluster. */
export interface ClusterView {
  leader: { nodeId: string; term: number; since: number | string; leaseRemainingMs: number } | null;
  nodes: { nodeId: string; role: string; [k: string]: unknown }[];
}

/** clusterView: GET /api/cluster from node `id` (throws on a non-200). */
export async function clusterView(cluster: BatonCluster, id: string): Promise<ClusterView> {
  const res = await cluster.api(id).get<ClusterView>('/api/cluster');
  if (res.status !== 200) throw new Error(`GET /api/cluster on ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * startTicking boots every node, waits for the first leader, PUTs an
 * every-second `http` schedule (through a node that is not the leader, so the
 * leader must hear the change live) and waits until `minTicks` instants arrived.
 * Returns the first `leader.elected` record.
 */
export async function startTicking(ctx: ScenarioContext, schedule: string, minTicks = 3): Promise<LogRecord> {
  const { cluster, receiver } = ctx;
  await cluster.startAll();
  const elected = await waitForElection(cluster, cluster.leaseMs * 3 + 5000);
  const via = cluster.ids.find((id) => id !== elected.source) ?? elected.source;
  await putSchedule(cluster, via, schedule, everySecond(receiver.url(`/hook/${schedule}`)));
  await receiver.waitFor(
    (ds) => new Set(ds.filter((d) => d.body?.schedule === schedule).map((d) => d.body.scheduledFor)).size >= minTicks,
    minTicks * 1000 + 10_000,
    `${minTicks} ticks of ${schedule}`,
  );
  return elected;
}
