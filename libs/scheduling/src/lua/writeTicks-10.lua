--[[
  writeTicks: the fenced write of a batch of ticks, in one atomic step.
  It checks the fence (the lease is the caller's, the schedules revision is
  the one the ticks were computed from), decides each tick against its
  schedule's cursor and, for overlap=skip, its active run, and writes the
  jobs exactly as BullMQ's addStandardJob / addDelayedJob write them for
  Baton's options (no parent, no deduplication, no priority, FIFO) without
  their per-job cost (one call per batch, no msgpack, no job counter, one
  marker update per batch), plus the cursors, the active runs and the
  runs:<name> index. The leader's FencedEnqueuer sends one call per batch.

  KEYS[1]  delayed   BullMQ's delayed set (score = due ms * 0x1000)
  KEYS[2]  wait      BullMQ's wait list
  KEYS[3]  meta      BullMQ's queue meta (paused, concurrency, opts.maxLenEvents)
  KEYS[4]  active    BullMQ's active list
  KEYS[5]  marker    BullMQ's marker set (wakes blocked workers)
  KEYS[6]  events    BullMQ's event stream
  KEYS[7]  leader    Baton's lease ('<token>:<nodeId>')
  KEYS[8]  rev       Baton's schedules revision
  KEYS[9]  cursor    Baton's cursors (name -> last enqueued instant ms)
  KEYS[10] running   Baton's active runs of overlap=skip schedules (name -> job id)

  ARGV[1] jobs key prefix ('{baton}:jobs:')
  ARGV[2] runs key prefix ('{baton}:runs:')
  ARGV[3] runs kept  a runs index trimmed here keeps its newest this many
  ARGV[4] timestamp  epoch ms the jobs were drafted (BullMQ's job timestamp)
  ARGV[5] lease      the lease value the caller holds
  ARGV[6] rev        the schedules revision the ticks were computed from
  ARGV[7] token      the fencing token (the jobs' data.fencingToken)
  ARGV[8] S, ARGV[9] K: how many shapes and instants follow
  then S shapes, three strings each: the JSON pieces a job's data and
            options are joined from (see tickShape in bull-jobs.ts):
              data = '{"schedule":"' name dataMid ISO '","fencingToken":' token
                     ',"payload":' payload dataTail
              opts = '{"jobId":"' id '"' [',"timestamp":' timestamp ',"delay":' delay] optsTail
  then K instants, two strings each: epoch ms, its ISO 8601 form
  then five per tick, in instant order per schedule: schedule name (as JSON
            leaves it, no escapes), due epoch ms (an instant above), its
            shape's index (from 1), flags (1: trim the runs index after
            adding to it; 2: an overlap=skip schedule), payload JSON. The
            job id is name '@' due. A job due after `timestamp` is delayed
            until exactly then (written ahead); the others go to wait.

  Returns {'fenced', lease in Redis or nil} or {'stale'} having written
  nothing, else {'ok', code per tick}: 1 enqueued (a job id that exists
  already is left as it is, as BullMQ's add does), 0 at or before its
  schedule's cursor (enqueued before), 2 skipped for overlap (its previous
  run is queued or running, or an earlier tick of this batch was enqueued;
  the cursor still moves past it, so it is never retried).
  Events, as BullMQ's: 'added' for each job, then 'delayed' or 'waiting'.
]]
local rcall = redis.call
local delayedKey, waitKey, metaKey, activeKey, markerKey, eventsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local leaderKey, revKey, cursorKey, runningKey = KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local prefix, runsPrefix, runsKept = ARGV[1], ARGV[2], tonumber(ARGV[3])
local timestamp = tonumber(ARGV[4])

local lease = rcall('GET', leaderKey)
if lease ~= ARGV[5] then return {'fenced', lease} end
if tonumber(rcall('GET', revKey) or '0') ~= tonumber(ARGV[6]) then return {'stale'} end

local meta = rcall('HMGET', metaKey, 'paused', 'concurrency', 'opts.maxLenEvents')
local maxEvents = meta[3]
if not maxEvents then
  maxEvents = 10000
  rcall('HSET', metaKey, 'opts.maxLenEvents', maxEvents)
end

-- where the shapes, the instants and the ticks begin in ARGV; the ISO form of each instant
local token = ARGV[7]
local shapesAt = 10
local instantsAt = shapesAt + 3 * tonumber(ARGV[8])
local ticksAt = instantsAt + 2 * tonumber(ARGV[9])
local isoOf = {}
for k = instantsAt, ticksAt - 1, 2 do isoOf[ARGV[k]] = ARGV[k + 1] end

-- Every schedule's cursor in HMGETs of at most 1000 (Lua's unpack has a stack limit): inside a script each
-- command costs about a microsecond more than its work, so what many ticks share goes in one variadic command.
local cursors, names = {}, {}
for i = ticksAt, #ARGV, 5 do
  local name = ARGV[i]
  if cursors[name] == nil then cursors[name] = false; names[#names + 1] = name end
end
for from = 1, #names, 1000 do
  local to = math.min(from + 999, #names)
  local got = rcall('HMGET', cursorKey, unpack(names, from, to))
  for j = from, to do cursors[names[j]] = tonumber(got[j - from + 1]) or false end
end

local codes = {'ok'}
local moved, newCursor, busy = {}, {}, {}
local waiting, delayed = {}, {}
for i = ticksAt, #ARGV, 5 do
  local name, dueMs, flags = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 3])
  local due, id = tonumber(dueMs), name .. '@' .. dueMs
  local cursor = cursors[name]
  local code = 1
  if cursor and due <= cursor then
    code = 0
  else
    if newCursor[name] == nil then moved[#moved + 1] = name end
    newCursor[name] = dueMs
    cursors[name] = due
    if flags >= 2 then
      if busy[name] == nil then
        local runningId = rcall('HGET', runningKey, name)
        busy[name] = false
        if runningId then
          local job = rcall('HMGET', prefix .. runningId, 'name', 'finishedOn')
          busy[name] = job[1] ~= false and job[2] == false
        end
      end
      if busy[name] then code = 2 else busy[name] = true; rcall('HSET', runningKey, name, id) end
    end
  end
  if code == 1 then
    local runsKey = runsPrefix .. name
    rcall('ZADD', runsKey, due, id)
    if flags % 2 == 1 then rcall('ZREMRANGEBYRANK', runsKey, 0, -(runsKept + 1)) end
    local jobKey = prefix .. id
    if rcall('EXISTS', jobKey) == 0 then
      local shape = shapesAt + 3 * (tonumber(ARGV[i + 2]) - 1)
      local delay, timing = 0, ''
      if due > timestamp then
        delay = due - timestamp
        timing = ',"timestamp":' .. ARGV[4] .. ',"delay":' .. delay
      end
      local data = '{"schedule":"' .. name .. ARGV[shape] .. isoOf[dueMs] .. '","fencingToken":' .. token
        .. ',"payload":' .. ARGV[i + 4] .. ARGV[shape + 1]
      local opts = '{"jobId":"' .. id .. '"' .. timing .. ARGV[shape + 2]
      rcall('HSET', jobKey, 'name', name, 'data', data, 'opts', opts,
        'timestamp', timestamp, 'delay', delay, 'priority', 0)
      rcall('XADD', eventsKey, '*', 'event', 'added', 'jobId', id, 'name', name)
      if delay > 0 then
        delayed[#delayed + 1] = due * 0x1000
        delayed[#delayed + 1] = id
        rcall('XADD', eventsKey, 'MAXLEN', '~', maxEvents, '*', 'event', 'delayed', 'jobId', id, 'delay', due)
      else
        waiting[#waiting + 1] = id
        rcall('XADD', eventsKey, 'MAXLEN', '~', maxEvents, '*', 'event', 'waiting', 'jobId', id)
      end
    end
  end
  codes[#codes + 1] = code
end

-- The moved cursors, in HSETs of at most 500 fields (Lua's unpack has a stack limit).
local fields = {}
for _, name in ipairs(moved) do
  fields[#fields + 1] = name
  fields[#fields + 1] = newCursor[name]
  if #fields == 1000 then rcall('HSET', cursorKey, unpack(fields)); fields = {} end
end
if #fields > 0 then rcall('HSET', cursorKey, unpack(fields)) end
for from = 1, #delayed, 1000 do rcall('ZADD', delayedKey, unpack(delayed, from, math.min(from + 999, #delayed))) end
for from = 1, #waiting, 1000 do rcall('LPUSH', waitKey, unpack(waiting, from, math.min(from + 999, #waiting))) end

-- Wake blocked workers as BullMQ does: for jobs in wait (not while the queue is
-- paused or at its global concurrency), and for delayed ones at the earliest due
-- time (addDelayMarkerIfNeeded), so that idle workers promote them should
-- nobody else.
if #waiting > 0 then
  local maxed = false
  if meta[2] then maxed = rcall('LLEN', activeKey) >= tonumber(meta[2]) end
  if not meta[1] and not maxed then rcall('ZADD', markerKey, 0, '0') end
end
if #delayed > 0 then
  local first = rcall('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
  if first[2] then rcall('ZADD', markerKey, math.floor(tonumber(first[2]) / 0x1000), '1') end
end
return codes
