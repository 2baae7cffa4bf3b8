--[[
  acquireLease: take the leader lease if nobody holds it (first writer wins)
  and hand out the next fencing token; announce the new term on the election
  channel, so followers learn the token at once (they pass the highest token
  they saw as minToken: that keeps tokens rising after Redis lost its data).

  KEYS[1] leader      string `<token>:<nodeId>` with a PX expiry (the lease)
  KEYS[2] term        fencing-token counter (only ever raised)
  KEYS[3] leaderInfo  hash nodeId, term, since, until, renewedAt (epoch ms, Redis TIME)
  KEYS[4] channel     election pub/sub channel; gets `elected:<token>:<nodeId>`

  ARGV[1] nodeId      the caller's node id
  ARGV[2] leaseMs     lease length in milliseconds
  ARGV[3] minToken    highest token the caller has ever seen; the new token is
                      greater, so tokens keep rising after Redis lost its data

  Returns
    {token, previousTerm, previousNodeId|false, leaderlessMs, previousSilentMs}  acquired
      leaderlessMs: since the previous lease ended (expired or released)
      previousSilentMs: since the previous leader last renewed or released
        (after a crash this is the real gap; leaderlessMs only counts its tail)
    {-1, pttlMs, holderValue}                                  held by someone
]]
local rcall = redis.call
local leaderKey, termKey, infoKey = KEYS[1], KEYS[2], KEYS[3]
local nodeId = ARGV[1]
local leaseMs = tonumber(ARGV[2])
local minToken = tonumber(ARGV[3])

-- 1. first writer wins: an existing lease is never overwritten
local holder = rcall('GET', leaderKey)
if holder then
  return {-1, rcall('PTTL', leaderKey), holder}
end

-- 2. next token: above the counter and above anything the caller has seen
local token = rcall('INCR', termKey)
if token <= minToken then
  token = minToken + 1
  rcall('SET', termKey, string.format('%d', token))
end

-- 3. the lease itself
local t = rcall('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
rcall('SET', leaderKey, string.format('%d', token) .. ':' .. nodeId, 'PX', leaseMs)
rcall('PUBLISH', KEYS[4], 'elected:' .. string.format('%d', token) .. ':' .. nodeId)

-- 4. remember who led before and for how long nobody did
local prev = rcall('HMGET', infoKey, 'nodeId', 'term', 'until', 'renewedAt')
local prevNode = prev[1]
local prevTerm = tonumber(prev[2]) or 0
local gapMs, silentMs = 0, 0
if prev[3] then
  gapMs = math.max(0, nowMs - tonumber(prev[3]))
end
if prev[4] then
  silentMs = math.max(0, nowMs - tonumber(prev[4]))
end
local now = string.format('%d', nowMs)
rcall('HSET', infoKey, 'nodeId', nodeId, 'term', string.format('%d', token),
  'since', now, 'until', string.format('%d', nowMs + leaseMs), 'renewedAt', now)

return {token, prevTerm, prevNode or false, gapMs, silentMs}
