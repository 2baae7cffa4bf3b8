--[[
  writeSchedule: create, replace or delete one schedule, bump the revision and
  announce the change, all in one step (the leader's writes are fenced by the revision).
  Replacing (pause included) or deleting also withdraws the schedule's ticks
  that a leader wrote ahead and that are not due yet (BullMQ delayed jobs due
  at their own instant): they were written for the old definition.

  KEYS[1] schedules     hash name -> schedule JSON
  KEYS[2] schedulesRev  counter, INCR on every change
  KEYS[3] cursor        hash name -> last instant (epoch ms) that became a job
  KEYS[4] meta          hash; createdAt (epoch ms) is written once per data set
  KEYS[5] delayed       BullMQ's delayed set (score = due ms * 0x1000 + counter)
  KEYS[6] runs          this schedule's runs index (job ids by instant)
  KEYS[7] events        BullMQ's event stream (a withdrawn job gets 'removed')
  KEYS[8] queueMeta     BullMQ's queue meta (opts.maxLenEvents caps the stream)

  ARGV[1] op            'create' (fails if the name exists), 'put' (create or
                        replace, compare-and-set) or 'delete'
  ARGV[2] name
  ARGV[3] json          the new schedule JSON ('' for delete)
  ARGV[4] expected      put only: the JSON the caller read, '' if it read none
  ARGV[5] raiseCursorMs '' to leave the cursor, else raise it to at least this
                        (epoch ms; never lowered past an instant whose job can
                        still run, so no instant runs twice)
  ARGV[6] nowMs         epoch ms: meta createdAt; ticks after it are withdrawn
  ARGV[7] channel       pub/sub channel for {op, name, rev}
  ARGV[8] jobsPrefix    BullMQ's job key prefix ('{baton}:jobs:')

  Returns { code, rev }: code 1 created / deleted, 0 replaced / nothing to
  delete, -1 conflict (the stored JSON is no longer `expected`), -2 the name
  exists (create). rev is the new revision (0 when nothing changed).
]]
local rcall = redis.call
local schedulesKey, revKey, cursorKey, metaKey, delayedKey, runsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local eventsKey, queueMetaKey = KEYS[7], KEYS[8]
local op, name, json, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local raiseCursorMs, nowMs, channel, jobsPrefix = ARGV[5], ARGV[6], ARGV[7], ARGV[8]

-- withdraw: remove the not-yet-due ticks written ahead for this schedule (job id
-- '<name>@<instant ms>', delayed until exactly that instant; a retry of a run
-- is delayed past its instant, so it stays) and lower the cursor to just
-- before the first one, so the leader writes those instants again for the new
-- definition. No job of theirs ever became waiting, so none runs twice.
local function withdraw()
  local cursor = tonumber(rcall('HGET', cursorKey, name) or '0')
  local now = tonumber(nowMs)
  if cursor <= now then return end
  local found = rcall('ZRANGEBYSCORE', delayedKey, (now + 1) * 0x1000, (cursor + 1) * 0x1000 - 1, 'WITHSCORES')
  local head = name .. '@'
  local first
  for i = 1, #found, 2 do
    local id = found[i]
    if string.sub(id, 1, #head) == head then
      local at = tonumber(string.sub(id, #head + 1))
      if at and math.floor(tonumber(found[i + 1]) / 0x1000) == at then
        rcall('ZREM', delayedKey, id)
        rcall('DEL', jobsPrefix .. id)
        rcall('ZREM', runsKey, id)
        rcall('XADD', eventsKey, 'MAXLEN', '~', rcall('HGET', queueMetaKey, 'opts.maxLenEvents') or 10000, '*',
          'event', 'removed', 'jobId', id, 'prev', 'delayed')
        if not first or at < first then first = at end
      end
    end
  end
  if first then rcall('HSET', cursorKey, name, first - 1) end
end

local current = rcall('HGET', schedulesKey, name)
local code
local event

if op == 'delete' then
  if not current then
    return { 0, 0 }
  end
  rcall('HDEL', schedulesKey, name)
  withdraw()
  code, event = 1, 'delete'
elseif op == 'create' then
  if current then
    return { -2, 0 }
  end
  rcall('HSET', schedulesKey, name, json)
  code, event = 1, 'create'
else
  if (current or '') ~= expected then
    return { -1, 0 }
  end
  rcall('HSET', schedulesKey, name, json)
  if current then
    withdraw()
    code, event = 0, 'update'
  else
    code, event = 1, 'create'
  end
end

if raiseCursorMs ~= '' then
  local cursor = tonumber(rcall('HGET', cursorKey, name) or '0')
  if tonumber(raiseCursorMs) > cursor then
    rcall('HSET', cursorKey, name, raiseCursorMs)
  end
end
rcall('HSETNX', metaKey, 'createdAt', nowMs)
local rev = rcall('INCR', revKey)
rcall('PUBLISH', channel, cjson.encode({ op = event, name = name, rev = rev }))
return { code, rev }
