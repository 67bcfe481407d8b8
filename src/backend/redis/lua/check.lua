-- Check a code MAC. One round trip, all keys in one hash-tag slot.
-- KEYS[1] pending index   KEYS[2] the number's failed-check TAT
-- KEYS[3..] the (number, client) failed-check TATs, one per client key
-- ARGV[1] now ms  ARGV[2] record key prefix  ARGV[3] id ('' = the pending one)
-- ARGV[4] tenant  ARGV[5] code MAC  ARGV[6] number's failed-check limit  ARGV[7] window ms
-- ARGV[8] retention ms after approval  ARGV[9] per-client failed-check limit
-- The failed-check limits are GCRA, as in gcra.lua (and `ratelimit::gcra`,
-- which the memory store runs): a key holds its TAT in ms, read against Redis's clock.
-- The check is refused, right code or not, while one more failure would not be
-- admitted; only a wrong code is charged.
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
local clock = redis.call('TIME')
clock = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local w = tonumber(ARGV[7])
local next_tat, worst, worst_over = {}, nil, 0
for k = 2, #KEYS do
  local q = tonumber(k == 2 and ARGV[6] or ARGV[9])
  local tat = tonumber(redis.call('GET', KEYS[k]) or '0') or 0
  if tat < clock then tat = clock end
  next_tat[k] = tat + w / q
  local over = next_tat[k] - clock - w
  if over > 0 and (worst == nil or over > worst_over) then worst, worst_over = k, over end
end
if worst then
  return {worst == 2 and 'number_limited' or 'client_limited', math.ceil(worst_over)}
end
if cteq(r[4], ARGV[5]) then
  redis.call('HSET', key, 'st', 'approved')
  redis.call('PEXPIRE', key, ARGV[8])
  if redis.call('GET', KEYS[1]) == id then redis.call('DEL', KEYS[1]) end
  return {'approved', id, redis.call('HGETALL', key)}
end
local left = redis.call('HINCRBY', key, 'al', -1)
if left <= 0 then redis.call('HSET', key, 'st', 'max_attempts_reached', 'al', '0') end
for k = 2, #KEYS do
  redis.call('SET', KEYS[k], string.format('%.3f', next_tat[k]), 'PX', math.max(1, math.ceil(next_tat[k] - clock)))
end
return {'wrong', id, redis.call('HGETALL', key)}
