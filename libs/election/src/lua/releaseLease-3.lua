--[[
  releaseLease: give the lease up at once, but only if the caller holds it
  (compare before DEL), and tell the followers so they need not wait for
  the lease to expire.

  KEYS[1] leader      string `<token>:<nodeId>` with a PX expiry
  KEYS[2] leaderInfo  hash nodeId, term, since, until (epoch ms)
  KEYS[3] channel     pub/sub channel for release broadcasts (passed as a key
                      so every name the script touches comes in through KEYS)

  ARGV[1] value       the holder value the caller got, `<token>:<nodeId>`

  Returns 1 released (and published), -1 held by another value, -2 no lease
]]
local rcall = redis.call
local leaderKey, infoKey, channel = KEYS[1], KEYS[2], KEYS[3]
local value = ARGV[1]

local current = rcall('GET', leaderKey)
if not current then
  return -2
end
if current ~= value then
  return -1
end

rcall('DEL', leaderKey)
local t = rcall('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
rcall('HSET', infoKey, 'until', string.format('%d', nowMs), 'renewedAt', string.format('%d', nowMs))
rcall('PUBLISH', channel, value)
return 1
