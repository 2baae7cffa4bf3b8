--[[
  finishAndTake: a worker's one call per batch. It completes the jobs whose
  attempts succeeded and takes up to N waiting jobs, each exactly as BullMQ's
  moveToFinished (target completed) and moveToActive do for Baton's jobs (no
  parent, no deduplication, no priority, no rate limit), without their
  per-job cost: one call for many jobs, no msgpack, the retention trims and
  the events-stream trim once per call. Failed attempts do not come here:
  BullMQ's own Job#moveToFailed decides their retry and backoff.

  KEYS[1] wait       BullMQ's wait list
  KEYS[2] active     BullMQ's active list
  KEYS[3] delayed    BullMQ's delayed set (score = due ms * 0x1000 + counter)
  KEYS[4] meta       BullMQ's queue meta (paused, concurrency, opts.maxLenEvents)
  KEYS[5] marker     BullMQ's marker set (wakes blocked workers)
  KEYS[6] events     BullMQ's event stream
  KEYS[7] stalled    BullMQ's stalled set (active jobs a stalled check found)
  KEYS[8] completed  BullMQ's completed set (score = finishedOn)

  ARGV[1] jobs key prefix ('{baton}:jobs:')
  ARGV[2] now        epoch ms (processedOn, finishedOn, the completed score)
  ARGV[3] take       how many waiting jobs to take (0: none)
  ARGV[4] token      the lock value of the jobs taken
  ARGV[5] lockMs     their lock's length
  ARGV[6] worker     the worker's name (the job's `pb`, a run's node)
  ARGV[7] keepAge    completed jobs older than this many seconds are removed
  ARGV[8] keepCount  only the newest this many completed jobs are kept
  ARGV[9..] triples: job id, lock token, attempts made with this one (atm), of
            each job to complete

  Returns {codes, taken, nextDelayedMs}:
    codes   one per completed triple: 0 completed; -2 lock gone (a stalled
            check gave it back: it will run again); -6 lock held by another
            token; -3 not in active
    taken   three per job: id, data (JSON), attempts made before (atm)
    nextDelayedMs  when fewer than N were taken: the due ms of the earliest
            delayed job (0: none), so the caller knows when to look again
  Events, as BullMQ's: 'completed' per job, 'waiting' (prev delayed) per job
  promoted, 'active' per job taken.
  What several jobs share is one variadic command per call (MGET of the
  locks, DEL, SREM, ZADD completed, LRANGE + LTRIM + LPUSH for the take):
  inside a script each command costs about a microsecond more than its work.
]]
local rcall = redis.call
local waitKey, activeKey, delayedKey, metaKey, markerKey, eventsKey, stalledKey, completedKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local prefix, now, want = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local token, lockMs, worker = ARGV[4], ARGV[5], ARGV[6]
local CHUNK = 1000 -- Lua's unpack has a stack limit

local function each(list, fn) -- fn(from, to) over chunks of at most CHUNK
  for from = 1, #list, CHUNK do fn(from, math.min(from + CHUNK - 1, #list)) end
end

local meta = rcall('HMGET', metaKey, 'paused', 'concurrency', 'opts.maxLenEvents')
local maxEvents = meta[3]
if not maxEvents then
  maxEvents = 10000
  rcall('HSET', metaKey, 'opts.maxLenEvents', maxEvents)
end
-- as BullMQ's trimEvents: before this call's events, so none of them is trimmed
rcall('XTRIM', eventsKey, 'MAXLEN', '~', maxEvents)

-- Complete: the jobs whose lock is still this attempt's.
local codes, ids, lockKeys = {}, {}, {}
for i = 9, #ARGV, 3 do
  ids[#ids + 1] = ARGV[i]
  lockKeys[#lockKeys + 1] = prefix .. ARGV[i] .. ':lock'
end
local held = {}
each(lockKeys, function(from, to)
  local got = rcall('MGET', unpack(lockKeys, from, to))
  for j = 1, #got do held[from + j - 1] = got[j] end
end)
local owned, ownedLocks = {}, {}
for j, id in ipairs(ids) do
  local lock = held[j]
  if lock == ARGV[9 + 3 * (j - 1) + 1] then
    owned[#owned + 1] = j
    ownedLocks[#ownedLocks + 1] = lockKeys[j]
    codes[j] = 0
  else
    codes[j] = lock and -6 or -2
  end
end
if #owned > 0 then
  each(ownedLocks, function(from, to) rcall('DEL', unpack(ownedLocks, from, to)) end)
  local done = {}
  for _, j in ipairs(owned) do done[#done + 1] = ids[j] end
  each(done, function(from, to) rcall('SREM', stalledKey, unpack(done, from, to)) end)
  local scored = {}
  for _, j in ipairs(owned) do
    local id = ids[j]
    if rcall('LREM', activeKey, -1, id) < 1 then
      codes[j] = -3
    else
      rcall('HSET', prefix .. id, 'returnvalue', 'null', 'finishedOn', now, 'atm', ARGV[9 + 3 * (j - 1) + 2])
      rcall('XADD', eventsKey, '*', 'event', 'completed', 'jobId', id, 'returnvalue', 'null', 'prev', 'active')
      scored[#scored + 1] = now
      scored[#scored + 1] = id
    end
  end
  if #scored > 0 then
    each(scored, function(from, to) rcall('ZADD', completedKey, unpack(scored, from, to)) end)

    -- Retention (BullMQ's removeJobsByMaxAge with its limit of 1000, then removeJobsByMaxCount), once per call.
    -- A removed job's keys: its hash and its logs (BullMQ's removeJob also deletes the keys of a parent's
    -- children, which Baton's jobs never have).
    local gone = {}
    local function removeJobs(list)
      for _, id in ipairs(list) do
        local jobKey = prefix .. id
        gone[#gone + 1] = jobKey
        gone[#gone + 1] = jobKey .. ':logs'
      end
    end
    local oldest = now - tonumber(ARGV[7]) * 1000
    local old = rcall('ZREVRANGEBYSCORE', completedKey, oldest, '-inf', 'LIMIT', 0, 1000)
    removeJobs(old)
    if #old > 0 then
      if #old < 1000 then rcall('ZREMRANGEBYSCORE', completedKey, '-inf', oldest)
      else each(old, function(from, to) rcall('ZREM', completedKey, unpack(old, from, to)) end) end
    end
    local keep = tonumber(ARGV[8])
    local extra = rcall('ZREVRANGE', completedKey, keep, -1)
    if #extra > 0 then
      removeJobs(extra)
      rcall('ZREMRANGEBYRANK', completedKey, 0, -(keep + 1))
    end
    each(gone, function(from, to) rcall('DEL', unpack(gone, from, to)) end)
  end
end

-- Take: at most `want` jobs (the queue's global concurrency permitting), after promoting what is due.
local taken = {}
local nextDelayedMs = 0
local maxed = meta[1] ~= false
if not maxed and meta[2] then
  local room = tonumber(meta[2]) - rcall('LLEN', activeKey)
  maxed = room <= 0
  if room < want then want = room end
end
if want > 0 and not maxed then
  -- BullMQ's promoteDelayedJobs: what is due moves to wait first (at most 1000 per call)
  local due = rcall('ZRANGEBYSCORE', delayedKey, 0, (now + 1) * 0x1000 - 1, 'LIMIT', 0, 1000)
  if #due > 0 then
    rcall('ZREM', delayedKey, unpack(due))
    rcall('LPUSH', waitKey, unpack(due))
    for _, id in ipairs(due) do
      rcall('XADD', eventsKey, '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
      rcall('HSET', prefix .. id, 'delay', 0)
    end
  end
  -- As `want` RPOPLPUSHes from wait to active: the oldest jobs (the right end) first, each pushed on active's left.
  local ids = rcall('LRANGE', waitKey, -want, -1)
  local n = #ids
  if n > 0 then
    rcall('LTRIM', waitKey, 0, -(n + 1))
    local order = {}
    for j = n, 1, -1 do order[#order + 1] = ids[j] end
    rcall('LPUSH', activeKey, unpack(order))
    for _, id in ipairs(order) do
      local jobKey = prefix .. id
      rcall('SET', jobKey .. ':lock', token, 'PX', lockMs)
      rcall('XADD', eventsKey, '*', 'event', 'active', 'jobId', id, 'prev', 'waiting')
      local job = rcall('HMGET', jobKey, 'data', 'atm', 'ats')
      rcall('HSET', jobKey, 'processedOn', now, 'pb', worker, 'ats', (tonumber(job[3]) or 0) + 1)
      taken[#taken + 1] = id
      taken[#taken + 1] = job[1] or ''
      taken[#taken + 1] = job[2] or '0'
    end
  end
  -- Jobs left in wait: wake the other blocked workers (BullMQ's addBaseMarkerIfNeeded).
  if rcall('LLEN', waitKey) > 0 then rcall('ZADD', markerKey, 0, '0') end
  if n < want then
    local first = rcall('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
    if first[2] then nextDelayedMs = math.floor(tonumber(first[2]) / 0x1000) end
  end
end
return {codes, taken, nextDelayedMs}
