-- The fleet numbers' flush: HINCRBY every field of every bucket, then EXPIRE the bucket.
-- KEYS: the buckets (`P:v1:st:<tenant>:<minute>`, one per key; on a cluster one key
-- per call). ARGV[1]: TTL in seconds; then per key: its field count, then field, amount
-- pairs.
local ttl = tonumber(ARGV[1])
local a = 2
for i, key in ipairs(KEYS) do
  local n = tonumber(ARGV[a])
  a = a + 1
  for _ = 1, n do
    redis.call('HINCRBY', key, ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  redis.call('EXPIRE', key, ttl)
end
return #KEYS
