--[[
  renewLease: extend the lease, but only while the caller still holds it
  (compare before PEXPIRE), and tell the followers, so that they know the
  lease is alive without keyspace events (a whole lease without a renewal
  means it lapsed).

  KEYS[1] leader      string `<token>:<nodeId>` with a PX expiry
  KEYS[2] leaderInfo  hash nodeId, term, since, until (epoch ms)
  KEYS[3] channel     pub/sub channel for renewal broadcasts (passed as a key
                      so every name the script touches comes in through KEYS)

  ARGV[1] value       the holder value the caller got, `<token>:<nodeId>`
  ARGV[2] leaseMs     new lease length in milliseconds, from now

  Returns 1 renewed (and published), -1 held by another value (lost), -2 no
  lease (missing)
]]
local rcall = redis.call
local leaderKey, infoKey, channel = KEYS[1], KEYS[2], KEYS[3]
local value = ARGV[1]
local leaseMs = tonumber(ARGV[2])

local current = rcall('GET', leaderKey)
if not current then
  return -2
end
if current ~= value then
  return -1
end

rcall('PEXPIRE', leaderKey, leaseMs)
local t = rcall('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
rcall('HSET', infoKey, 'until', string.format('%d', nowMs + leaseMs), 'renewedAt', string.format('%d', nowMs))
rcall('PUBLISH', channel, value)
return 1
