--[[
  extendJobLocks: renew the locks of a worker's running jobs, as BullMQ's
  extendLocks does: a lock still held with the job's token is set to lockMs
  again and the job leaves the stalled set (a stalled check will not give it
  back); any other lock is left alone.

  KEYS[1] stalled  BullMQ's stalled set
  ARGV[1] jobs key prefix ('{baton}:jobs:')
  ARGV[2] lockMs
  ARGV[3..] pairs: job id, lock token

  Returns the ids whose lock was gone or held by another token.
]]
local rcall = redis.call
local prefix, lockMs = ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local lockKey = prefix .. id .. ':lock'
  if rcall('GET', lockKey) == token then
    rcall('SET', lockKey, token, 'PX', lockMs)
    rcall('SREM', KEYS[1], id)
  else
    lost[#lost + 1] = id
  end
end
return lost
