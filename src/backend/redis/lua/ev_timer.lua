-- Events to tenants: arm (ARGV[2] = the event, ARGV[3] = when) or disarm (ARGV[2] empty)
-- a verification's expiry timer (events.rs).
-- KEYS[1] timers (sorted set), KEYS[2] timers' events (hash); ARGV[1] verification id
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
return 1
