-- Reserve an idempotency key, or return what it holds.
-- KEYS[1] idempotency key   ARGV[1] reservation value   ARGV[2] ttl ms
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {'reserved'}
end
return {'existing', cur}
