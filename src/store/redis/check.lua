-- Check a code MAC. One round trip, all keys in one hash-tag slot.
-- KEYS[1] pending index   KEYS[2] per-number failed-check counter
-- ARGV[1] now ms  ARGV[2] record key prefix  ARGV[3] id ('' = the pending one)
-- ARGV[4] tenant  ARGV[5] code MAC  ARGV[6] failed-check limit  ARGV[7] window ms
-- ARGV[8] retention ms after approval
local function cteq(a, b)
  -- constant time in the content: every byte is visited whatever differs
  if #a ~= #b then return false end
  local acc = 0
  for i = 1, #a do acc = bit.bor(acc, bit.bxor(string.byte(a, i), string.byte(b, i))) end
  return acc == 0
end
local now = tonumber(ARGV[1])
local id = ARGV[3]
if id == '' then
  id = redis.call('GET', KEYS[1])
  if not id then return {'not_found'} end
end
local key = ARGV[2] .. id
local r = redis.call('HMGET', key, 't', 'st', 'ex', 'cm')
if not r[1] or r[1] ~= ARGV[4] then return {'not_found'} end
local ex = tonumber(r[3])
if now >= ex then return {'not_found'} end
if r[2] == 'max_attempts_reached' then return {'max_attempts', ex - now} end
if r[2] ~= 'pending' then return {'not_found'} end
local failed = tonumber(redis.call('GET', KEYS[2]) or '0')
if failed >= tonumber(ARGV[6]) then
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl < 0 then ttl = 0 end
  return {'number_limited', ttl}
end
if cteq(r[4], ARGV[5]) then
  redis.call('HSET', key, 'st', 'approved')
  redis.call('PEXPIRE', key, ARGV[8])
  if redis.call('GET', KEYS[1]) == id then redis.call('DEL', KEYS[1]) end
  return {'approved', id, redis.call('HGETALL', key)}
end
local left = redis.call('HINCRBY', key, 'al', -1)
if left <= 0 then redis.call('HSET', key, 'st', 'max_attempts_reached', 'al', '0') end
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[7]) end
return {'wrong', id, redis.call('HGETALL', key)}
