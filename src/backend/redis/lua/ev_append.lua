-- Events to tenants: append one event to its verification's line (events.rs).
-- KEYS[1] the line, KEYS[2] the verification's seq counter, KEYS[3] the shard's due set
-- ARGV[1] verification id, ARGV[2] the event's text, ARGV[3] now (ms), ARGV[4] keys' TTL (s)
local seq = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('RPUSH', KEYS[1], seq .. ' ' .. ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[1])
return seq
