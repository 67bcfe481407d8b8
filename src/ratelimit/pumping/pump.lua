-- SMS-pumping guard, one send to a (tenant, country, prefix). One round trip; all keys
-- share the tenant's hash tag {pg:<tenant>}.
-- KEYS[1] sends this slot   KEYS[2] sends last slot
-- KEYS[3] approvals this slot   KEYS[4] approvals last slot
-- KEYS[5] blocks hash   KEYS[6] strikes of the prefix
-- ARGV[1] now ms  ARGV[2] fraction of this slot elapsed  ARGV[3] field (hashed prefix)
-- ARGV[4] min sends  ARGV[5] min conversion  ARGV[6] first block ms  ARGV[7] longest block ms
-- ARGV[8] window ms  ARGV[9] '1' shadow  ARGV[10] country  ARGV[11] prefix
local now = tonumber(ARGV[1])
local b = redis.call('HGET', KEYS[5], ARGV[3])
if b then
  local untl = tonumber(string.match(b, '^(%d+)|'))
  if untl and untl > now then return {'blocked', untl - now} end
  redis.call('HDEL', KEYS[5], ARGV[3])
end
local w = tonumber(ARGV[8])
local cur = redis.call('INCR', KEYS[1])
if cur == 1 then redis.call('PEXPIRE', KEYS[1], 2 * w) end
local keep = 1 - tonumber(ARGV[2])
local s = cur + tonumber(redis.call('GET', KEYS[2]) or '0') * keep
local a = tonumber(redis.call('GET', KEYS[3]) or '0') + tonumber(redis.call('GET', KEYS[4]) or '0') * keep
local sends, approvals = math.floor(s + 0.5), math.floor(a + 0.5)
if s >= tonumber(ARGV[4]) and a < tonumber(ARGV[5]) * s then
  if ARGV[9] == '1' then return {'would_block', sends, approvals} end
  local strikes = redis.call('INCR', KEYS[6])
  redis.call('PEXPIRE', KEYS[6], 30 * 24 * 3600 * 1000)
  local dur = tonumber(ARGV[6]) * math.pow(2, strikes - 1)
  local max = tonumber(ARGV[7])
  if dur > max then dur = max end
  local untl = now + dur
  redis.call('HSET', KEYS[5], ARGV[3], string.format('%d|%d|%s|%s|%d|%d', untl, strikes, ARGV[10], ARGV[11], sends, approvals))
  if redis.call('PTTL', KEYS[5]) < dur then redis.call('PEXPIRE', KEYS[5], dur) end
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
  return {'blocked_now', dur, sends, approvals}
end
return {'ok'}
