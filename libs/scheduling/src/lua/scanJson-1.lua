--[[
  scanJson: one HSCAN step over a hash, its reply as a few JSON texts, so
  that a client reading 100,000 schedules decodes a few bulk strings per
  chunk instead of two per field (ioredis makes a Buffer and then a string of
  each: that was half of a new leader's loading time).

  KEYS[1] the hash
  ARGV[1] HSCAN cursor ('0' to start)
  ARGV[2] COUNT hint
  ARGV[3] 'values': the chunk's values, which must be JSON texts, as JSON
          arrays of them; 'pairs': the chunk's fields and values as JSON
          arrays of strings [field, value, field, value, ...]
  ARGV[4] items (values, or fields + values, an even number) per JSON text:
          small texts stay in V8's young generation, where garbage is cheap

  Returns {next cursor ('0' when done), JSON array text, ...}.
]]
local reply = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local flat, pairs, per = reply[2], ARGV[3] == 'pairs', tonumber(ARGV[4])
local out, part = {reply[1]}, {}
local function emit()
  if pairs then out[#out + 1] = cjson.encode(part) else out[#out + 1] = '[' .. table.concat(part, ',') .. ']' end
  part = {}
end
for i = 1, #flat do
  if pairs or i % 2 == 0 then
    part[#part + 1] = flat[i]
    if #part >= per and (not pairs or #part % 2 == 0) then emit() end
  end
end
if #part > 0 then emit() end
return out
