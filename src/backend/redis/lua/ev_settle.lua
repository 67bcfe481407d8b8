-- Events to tenants: what became of a line's head (events.rs), if it still is the head
-- (a lease that expired may have been taken over and settled by another instance).
-- KEYS[1] due set, KEYS[2] attempts hash, KEYS[3] the line, KEYS[4] the shard's dead letters
-- ARGV[1] verification id, ARGV[2] the head's seq, ARGV[3] 'delivered' | 'retry' | 'dead', ARGV[4] now
-- retry: ARGV[5] attempts, ARGV[6] first attempt (ms), ARGV[7] due at (ms)
-- dead: ARGV[5] attempts, ARGV[6] reason, ARGV[7] the later events' reason, ARGV[8] cap
local head = redis.call('LINDEX', KEYS[3], 0)
if not head or string.match(head, '^(%d+) ') ~= ARGV[2] then
  return 0
end
local id, mode = ARGV[1], ARGV[3]
if mode == 'delivered' then
  redis.call('LPOP', KEYS[3])
  redis.call('HDEL', KEYS[2], id)
  if redis.call('LLEN', KEYS[3]) > 0 then
    redis.call('ZADD', KEYS[1], ARGV[4], id)
  else
    redis.call('ZREM', KEYS[1], id)
  end
  return 1
elseif mode == 'retry' then
  redis.call('HSET', KEYS[2], id, ARGV[2] .. ' ' .. ARGV[5] .. ' ' .. ARGV[6])
  redis.call('ZADD', KEYS[1], ARGV[7], id)
  return 1
end
local all = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[2], id)
redis.call('ZREM', KEYS[1], id)
for i, e in ipairs(all) do
  local attempts, reason = ARGV[5], ARGV[6]
  if i > 1 then
    attempts, reason = '0', ARGV[7]
  end
  redis.call('LPUSH', KEYS[4], cjson.encode({at = ARGV[4], attempts = attempts, reason = reason, entry = e}))
end
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[8]) - 1)
return #all
