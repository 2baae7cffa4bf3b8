/**
 * batonKeys builds every Redis key of one deployment. All keys share the hash
 * tag `{prefix}` so one deployment lives in one Redis Cluster slot, and MULTI /
 * Lua over several of them stay legal there. Two prefixes are two
 * independent clusters.
 */
export function batonKeys(prefix: string) {
  const tag = `{${prefix}}`;
  return {
    /** tag: the hash tag; BullMQ's `prefix` option, so its keys read `{baton}:jobs:*`. */
    tag,
    /** leader: the lease, a string `<token>:<nodeId>` with a PX expiry. */
    leader: `${tag}:leader`,
    /** term: the fencing-token counter (INCR; never lowered). */
    term: `${tag}:term`,
    /** leaderInfo: hash of the current/last leadership: nodeId, term, since, until (epoch ms). */
    leaderInfo: `${tag}:leader-info`,
    /** electionChannel: pub/sub channel where a released lease is broadcast. */
    electionChannel: `${tag}:election`,
    /** renewalChannel: pub/sub channel where each renewal of the lease is broadcast (its holder value). */
    renewalChannel: `${tag}:election:renewed`,
    /** controlChannel: pub/sub channel for cluster commands (`{op: 'resign', term}`). */
    controlChannel: `${tag}:control`,
    /** schedules: hash name → schedule JSON. */
    schedules: `${tag}:schedules`,
    /** schedulesRev: counter bumped by every schedule change (leader compares it before enqueueing). */
    schedulesRev: `${tag}:schedules:rev`,
    /** schedulesChannel: pub/sub channel announcing schedule changes. */
    schedulesChannel: `${tag}:schedules:changes`,
    /** cursor: hash name → last scheduled instant (epoch ms) that became a job. */
    cursor: `${tag}:cursor`,
    /** active: hash name → job id of the run still queued or running (overlap: skip). */
    active: `${tag}:active`,
    /** runs: sorted set of one schedule's job ids, scored by scheduled instant. */
    runs: (name: string) => `${tag}:runs:${name}`,
    /** runsPrefix: the start of every `runs:<name>` key (`runs(name)` = runsPrefix + name). */
    runsPrefix: `${tag}:runs:`,
    /** job: BullMQ's hash of one job (processedOn, finishedOn, pb = node, ats = attempts started, failedReason, ...). */
    job: (jobId: string) => `${tag}:jobs:${jobId}`,
    /** jobsPrefix: the start of every BullMQ job hash key (`job(id)` = jobsPrefix + id). */
    jobsPrefix: `${tag}:jobs:`,
    /** jobsCompleted / jobsFailed: BullMQ's sorted sets of finished jobs of the queue. */
    jobsCompleted: `${tag}:jobs:completed`,
    jobsFailed: `${tag}:jobs:failed`,
    /** jobsDelayed: BullMQ's sorted set of jobs waiting for their time (ticks written ahead, retries in backoff). */
    jobsDelayed: `${tag}:jobs:delayed`,
    /** jobsEvents / jobsMeta: BullMQ's event stream and meta hash of the queue. */
    jobsEvents: `${tag}:jobs:events`,
    jobsMeta: `${tag}:jobs:meta`,
    /** nodes: hash nodeId → node info JSON with lastSeenAt (the heartbeat). */
    nodes: `${tag}:nodes`,
    /** meta: hash written once per data set (createdAt); its absence means Redis lost its data. */
    meta: `${tag}:meta`,
    /** queueName: the BullMQ queue all jobs go through. */
    queueName: 'jobs',
  };
}

/** RUNS_KEPT: `runs:<name>` keeps the newest 1000 job ids of a schedule. */
export const RUNS_KEPT = 1000;

/** RUNS_TRIM_EVERY: about one enqueue of a schedule in this many also trims its `runs:<name>` (runsTrimDue). */
export const RUNS_TRIM_EVERY = 50;

/**
 * runsTrimDue: whether enqueueing `jobId` should also trim its schedule's
 * `runs:<name>` to RUNS_KEPT. A stable hash of the id, true for about one id
 * in RUNS_TRIM_EVERY whatever the schedule's cadence, so the set stays within
 * RUNS_KEPT + a few dozen without a counter anywhere.
 */
export function runsTrimDue(jobId: string): boolean {
  let h = 2166136261; // FNV-1a, 32 bit
  for (let i = 0; i < jobId.length; i++) h = Math.imul(h ^ jobId.charCodeAt(i), 16777619);
  return (h >>> 0) % RUNS_TRIM_EVERY === 0;
}

/** BatonKeys: the key set of one prefix. */
export type BatonKeys = ReturnType<typeof batonKeys>;
