-- Events to tenants: one poll of a shard (events.rs). First the due expiry timers are
-- fired (each timer's event appended to its line, the timer removed: once, whoever
-- polls), then the heads of up to ARGV[3] due lines are leased for ARGV[2] ms.
-- KEYS[1] due set, KEYS[2] attempts hash, KEYS[3] timers (sorted set), KEYS[4] timers' events (hash)
-- ARGV[1] now, ARGV[2] lease ms, ARGV[3] max, ARGV[4] line key prefix, ARGV[5] seq key prefix, ARGV[6] keys' TTL (s)
local now = tonumber(ARGV[1])
local fired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(fired) do
  local text = redis.call('HGET', KEYS[4], id)
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  if text then
    local seq = redis.call('INCR', ARGV[5] .. id)
    redis.call('EXPIRE', ARGV[5] .. id, ARGV[6])
    redis.call('RPUSH', ARGV[4] .. id, seq .. ' ' .. text)
    redis.call('EXPIRE', ARGV[4] .. id, ARGV[6])
    redis.call('ZADD', KEYS[1], 'NX', now, id)
  end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local head = redis.call('LINDEX', ARGV[4] .. id, 0)
  if head then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    out[#out + 1] = {id, head, redis.call('HGET', KEYS[2], id) or ''}
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
  end
end
return {#fired, out}
