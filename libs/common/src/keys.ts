/**
 * batonKeys builds every Redis key of one deployment. All keys share the hash
 * tag `{prefix}` so one deployment lives in one Redis Cluster slot, and WATCH /
 * MULTI / Lua over several of them stay legal there. Two prefixes are two
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
    /** run: hash with one job's run record (state, attempts, node, times, error). */
    run: (jobId: string) => `${tag}:run:${jobId}`,
    /** nodes: hash nodeId → node info JSON with lastSeenAt (the heartbeat). */
    nodes: `${tag}:nodes`,
    /** meta: hash written once per data set (createdAt); its absence means Redis lost its data. */
    meta: `${tag}:meta`,
    /** queueName: the BullMQ queue all jobs go through. */
    queueName: 'jobs',
  };
}

/** BatonKeys: the key set of one prefix. */
export type BatonKeys = ReturnType<typeof batonKeys>;
