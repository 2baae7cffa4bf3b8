--[[
  writeSchedule: create, replace or delete one schedule, bump the revision and
  announce the change, all in one step (the leader WATCHes the revision).

  KEYS[1] schedules     hash name -> schedule JSON
  KEYS[2] schedulesRev  counter, INCR on every change
  KEYS[3] cursor        hash name -> last instant (epoch ms) that became a job
  KEYS[4] meta          hash; createdAt (epoch ms) is written once per data set

  ARGV[1] op            'create' (fails if the name exists), 'put' (create or
                        replace, compare-and-set) or 'delete'
  ARGV[2] name
  ARGV[3] json          the new schedule JSON ('' for delete)
  ARGV[4] expected      put only: the JSON the caller read, '' if it read none
  ARGV[5] raiseCursorMs '' to leave the cursor, else raise it to at least this
                        (epoch ms; never lowered, so no instant is enqueued twice)
  ARGV[6] nowMs         epoch ms, for meta createdAt
  ARGV[7] channel       pub/sub channel for {op, name, rev}

  Returns { code, rev }: code 1 created / deleted, 0 replaced / nothing to
  delete, -1 conflict (the stored JSON is no longer `expected`), -2 the name
  exists (create). rev is the new revision (0 when nothing changed).
]]
local rcall = redis.call
local schedulesKey, revKey, cursorKey, metaKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local op, name, json, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local raiseCursorMs, nowMs, channel = ARGV[5], ARGV[6], ARGV[7]

local current = rcall('HGET', schedulesKey, name)
local code
local event

if op == 'delete' then
  if not current then
    return { 0, 0 }
  end
  rcall('HDEL', schedulesKey, name)
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
  if current then code, event = 0, 'update' else code, event = 1, 'create' end
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
