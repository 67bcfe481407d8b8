-- The fleet numbers' read: HGETALL of every bucket named, in order (missing ones empty).
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGETALL', key)
end
return out
