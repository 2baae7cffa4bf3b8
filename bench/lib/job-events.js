'use strict';
// BullMQ writes a job's life to the queue's events stream (`<prefix>:<queue>:events`):
// `added`, `waiting` (in the queue, ready to run), `active` (a worker took it:
// the same script sets processedOn), `completed`. A stream entry's id starts
// with Redis's clock in ms, so these give, for Baton and BullMQ alike and on one
// clock, when each job became runnable and when its handler started. The
// stream is capped (`opts.maxLenEvents` in the queue's meta hash, 10,000 by
// default): raiseEventsCap lifts the cap before a run so nothing is trimmed.

/** raiseEventsCap sets the queue's events-stream cap high enough for a whole run. Call before anything writes. */
async function raiseEventsCap(redis, queuePrefix, cap = 100_000_000) {
  await redis.hset(`${queuePrefix}:meta`, 'opts.maxLenEvents', String(cap));
}

/**
 * readJobEvents reads the whole stream in pages, keeping per job id: first
 * `waiting` and first `active` time (ms), and how many `added`, `active` and
 * `completed` entries it has. Returns a Map jobId → {waiting, active, added, actives, completed}.
 */
async function readJobEvents(redis, queuePrefix) {
  const key = `${queuePrefix}:events`;
  const jobs = new Map();
  let start = '-';
  for (;;) {
    const page = await redis.xrange(key, start, '+', 'COUNT', 20_000);
    for (const [id, fields] of page) {
      let event;
      let jobId;
      for (let i = 0; i < fields.length; i += 2) {
        if (fields[i] === 'event') event = fields[i + 1];
        else if (fields[i] === 'jobId') jobId = fields[i + 1];
      }
      if (!jobId) continue;
      const ms = Number(id.slice(0, id.indexOf('-')));
      let j = jobs.get(jobId);
      if (!j) jobs.set(jobId, (j = { waiting: null, active: null, added: 0, actives: 0, completed: 0 }));
      if (event === 'waiting' && j.waiting === null) j.waiting = ms;
      else if (event === 'active') { j.actives++; if (j.active === null) j.active = ms; }
      else if (event === 'added') j.added++;
      else if (event === 'completed') j.completed++;
    }
    if (page.length < 20_000) break;
    start = `(${page[page.length - 1][0]}`;
  }
  return jobs;
}

module.exports = { raiseEventsCap, readJobEvents };
