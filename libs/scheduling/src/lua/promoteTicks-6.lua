--[[
  promoteTicks: at its instant, move the ticks a leader wrote ahead (BullMQ
  delayed jobs due at that instant) to the wait list, as BullMQ's own
  promotion of due delayed jobs does (promoteDelayedJobs in moveToActive), but
  only for the given job ids, and report what became of each.

  KEYS[1] delayed   BullMQ's delayed set (score = due ms * 0x1000 + counter)
  KEYS[2] wait      BullMQ's wait list
  KEYS[3] meta      BullMQ's queue meta (paused, concurrency, opts.maxLenEvents)
  KEYS[4] active    BullMQ's active list
  KEYS[5] marker    BullMQ's marker set (wakes blocked workers)
  KEYS[6] events    BullMQ's event stream

  ARGV[1] jobs key prefix ('{baton}:jobs:')
  ARGV[2] nowMs     epoch ms; only jobs due at or before it move
  ARGV[3..] job ids

  Returns one code per id: 1 moved to wait now, 2 no longer delayed (a worker
  promoted it first, it ran, ...), 0 gone (withdrawn by a schedule change),
  -1 still delayed and not due.
]]
local rcall = redis.call
local delayedKey, waitKey, metaKey, activeKey, markerKey, eventsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local prefix = ARGV[1]
local maxScore = (tonumber(ARGV[2]) + 1) * 0x1000 - 1

local meta = rcall('HMGET', metaKey, 'paused', 'concurrency', 'opts.maxLenEvents')
local maxEvents = meta[3]
if not maxEvents then
  maxEvents = 10000
  rcall('HSET', metaKey, 'opts.maxLenEvents', maxEvents)
end

local codes = {}
local moved = {}
local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
-- One ZMSCORE, ZREM and LPUSH for all (chunks of 1000: Lua's unpack has a stack limit); inside a script each
-- command costs about a microsecond more than its work.
for from = 1, #ids, 1000 do
  local to = math.min(from + 999, #ids)
  local scores = rcall('ZMSCORE', delayedKey, unpack(ids, from, to))
  local due = {}
  for j = from, to do
    local id, score = ids[j], scores[j - from + 1]
    if score then
      if tonumber(score) <= maxScore then
        due[#due + 1] = id
        codes[j] = 1
      else
        codes[j] = -1
      end
    elseif rcall('EXISTS', prefix .. id) == 1 then
      codes[j] = 2
    else
      codes[j] = 0
    end
  end
  if #due > 0 then
    rcall('ZREM', delayedKey, unpack(due))
    rcall('LPUSH', waitKey, unpack(due))
    for _, id in ipairs(due) do
      rcall('XADD', eventsKey, 'MAXLEN', '~', maxEvents, '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
      rcall('HSET', prefix .. id, 'delay', 0)
      moved[#moved + 1] = id
    end
  end
end

-- Wake blocked workers, as BullMQ's addBaseMarkerIfNeeded does: not while the queue is paused or at its global concurrency.
if #moved > 0 then
  local maxed = false
  if meta[2] then maxed = rcall('LLEN', activeKey) >= tonumber(meta[2]) end
  if not meta[1] and not maxed then rcall('ZADD', markerKey, 0, '0') end
end
return codes
