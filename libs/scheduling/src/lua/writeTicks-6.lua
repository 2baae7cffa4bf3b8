--[[
  writeTicks: write a batch of ticks as BullMQ jobs in one call, the job hash
  and queue entries exactly as BullMQ's addStandardJob / addDelayedJob write
  them for Baton's options (no parent, no deduplication, no priority, FIFO),
  without their per-job cost: one script call per batch instead of one per
  job, no msgpack decoding, no job counter, one marker update per batch.
  The leader's FencedEnqueuer sends it inside its fenced MULTI.

  KEYS[1] delayed   BullMQ's delayed set (score = due ms * 0x1000)
  KEYS[2] wait      BullMQ's wait list
  KEYS[3] meta      BullMQ's queue meta (paused, concurrency, opts.maxLenEvents)
  KEYS[4] active    BullMQ's active list
  KEYS[5] marker    BullMQ's marker set (wakes blocked workers)
  KEYS[6] events    BullMQ's event stream

  ARGV[1] jobs key prefix ('{baton}:jobs:')
  ARGV[2] runs key prefix ('{baton}:runs:')
  ARGV[3] runs kept  a runs index trimmed here keeps its newest this many
  ARGV[4] timestamp  epoch ms the jobs were drafted (BullMQ's job timestamp)
  ARGV[5..] six per job: id, name, data JSON, opts JSON, due epoch ms, '1' to
            trim the runs index after adding it (else '0'). A job due after
            `timestamp` is delayed until exactly then (written ahead); the
            others go to wait.

  A job id that exists already is left as it is (BullMQ's add does the same).
  Events, as BullMQ's: 'added' for each job, then 'delayed' or 'waiting'.
  Returns the number of jobs written.
]]
local rcall = redis.call
local delayedKey, waitKey, metaKey, activeKey, markerKey, eventsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local prefix, runsPrefix, runsKept = ARGV[1], ARGV[2], tonumber(ARGV[3])
local timestamp = tonumber(ARGV[4])

local meta = rcall('HMGET', metaKey, 'paused', 'concurrency', 'opts.maxLenEvents')
local maxEvents = meta[3]
if not maxEvents then
  maxEvents = 10000
  rcall('HSET', metaKey, 'opts.maxLenEvents', maxEvents)
end

local written, waiting, delayed = 0, 0, 0
for i = 5, #ARGV, 6 do
  local id, name, due = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 4])
  local runsKey = runsPrefix .. name
  rcall('ZADD', runsKey, due, id)
  if ARGV[i + 5] == '1' then rcall('ZREMRANGEBYRANK', runsKey, 0, -(runsKept + 1)) end
  local jobKey = prefix .. id
  if rcall('EXISTS', jobKey) == 0 then
    local delay = 0
    if due > timestamp then delay = due - timestamp end
    rcall('HSET', jobKey, 'name', name, 'data', ARGV[i + 2], 'opts', ARGV[i + 3],
      'timestamp', timestamp, 'delay', delay, 'priority', 0)
    rcall('XADD', eventsKey, '*', 'event', 'added', 'jobId', id, 'name', name)
    if delay > 0 then
      rcall('ZADD', delayedKey, due * 0x1000, id)
      rcall('XADD', eventsKey, 'MAXLEN', '~', maxEvents, '*', 'event', 'delayed', 'jobId', id, 'delay', due)
      delayed = delayed + 1
    else
      rcall('LPUSH', waitKey, id)
      rcall('XADD', eventsKey, 'MAXLEN', '~', maxEvents, '*', 'event', 'waiting', 'jobId', id)
      waiting = waiting + 1
    end
    written = written + 1
  end
end

-- Wake blocked workers as BullMQ does: for jobs in wait (not while the queue is
-- paused or at its global concurrency), and for delayed ones at the earliest due
-- time (addDelayMarkerIfNeeded), so that idle workers promote them should
-- nobody else.
if waiting > 0 then
  local maxed = false
  if meta[2] then maxed = rcall('LLEN', activeKey) >= tonumber(meta[2]) end
  if not meta[1] and not maxed then rcall('ZADD', markerKey, 0, '0') end
end
if delayed > 0 then
  local first = rcall('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
  if first[2] then rcall('ZADD', markerKey, math.floor(tonumber(first[2]) / 0x1000), '1') end
end
return written
