-- Finish a pending verification: cancel it, or approve it without a code.
-- KEYS[1] record  KEYS[2] pending index
-- ARGV[1] now ms  ARGV[2] tenant  ARGV[3] retention ms  ARGV[4] id
-- ARGV[5] the status it moves to: canceled or approved
-- Replies 'moved' when this call moved it, 'ok' when it was not pending, with the record.
local r = redis.call('HMGET', KEYS[1], 't', 'st', 'ex')
if not r[1] or r[1] ~= ARGV[2] then return {'not_found'} end
if r[2] == 'pending' and tonumber(r[3]) > tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'st', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
  return {'moved', redis.call('HGETALL', KEYS[1])}
end
return {'ok', redis.call('HGETALL', KEYS[1])}
