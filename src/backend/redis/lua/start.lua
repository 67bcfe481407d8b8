-- Start or resend a verification and queue its send. One round trip, all keys in one
-- hash-tag slot. The XADD comes before any other write: if it fails (out of memory, a
-- damaged stream key) the script stops with nothing written, so a start leaves either a
-- verification and its queued message, or neither.
-- KEYS[1] pending index   KEYS[2] per-number send counter   KEYS[3] new record
-- KEYS[4] the shard's send stream   KEYS[5] the shard's workflow step timers
-- KEYS[6] the destination's lookup index (sorted set of ids by creation time)
-- ARGV[1] now ms  ARGV[2] record key prefix  ARGV[3] new id  ARGV[4] cooldown ms
-- ARGV[5] retention ms  ARGV[6] number send limit  ARGV[7] limit window ms
-- ARGV[8] new expires_at ms  ARGV[9] tenant  ARGV[10] app hash  ARGV[11] request id
-- ARGV[12] '1' when the record becomes the number's pending verification (a start), '0'
-- for a delivery-only send: it never resends the pending one, nor takes the index
-- ARGV[13] the channel a resend switches to ('' keeps the last send's)
-- ARGV[14] when a new workflow's first step times out ('' none: no workflow, or one step)
-- ARGV[15] lookup retention ms ('0': no index kept)  ARGV[16] ids the lookup index keeps
-- ARGV[17..] field/value pairs of the new record
local now = tonumber(ARGV[1])
local function ms(n) return string.format('%d', n) end
local sent = tonumber(redis.call('GET', KEYS[2]) or '0')
local function limited()
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl < 0 then ttl = 0 end
  return {'number_limited', ttl}
end
local function bump()
  if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[7]) end
end
local function enqueue(id, seq)
  redis.call('XADD', KEYS[4], '*', 'v', id, 't', ARGV[9], 's', seq, 'h', ARGV[10], 'r', ARGV[11])
end
local indexed = ARGV[12] == '1'
local id = indexed and redis.call('GET', KEYS[1])
if id then
  local key = ARGV[2] .. id
  local r = redis.call('HMGET', key, 'st', 'ex', 'sc', 'ms', 'nr', 'ca', 'so')
  if r[1] == 'pending' and tonumber(r[2]) > now then
    -- a zero cooldown is off: requests racing on clocks a millisecond apart all pass
    if tonumber(ARGV[4]) > 0 and now < tonumber(r[5]) then return {'cooldown', tonumber(r[5]) - now} end
    if tonumber(r[3]) >= tonumber(r[4]) then return {'max_sends', tonumber(r[2]) - now} end
    if sent >= tonumber(ARGV[6]) then return limited() end
    enqueue(id, tonumber(r[3]) + 1)
    redis.call('HINCRBY', key, 'sc', 1)
    -- this send's time, as ms after the record's creation, appended to 'so'
    local off = ms(now - tonumber(r[6]))
    local so = (r[7] and r[7] ~= '') and (r[7] .. ',' .. off) or off
    redis.call('HSET', key, 'nr', ms(now + tonumber(ARGV[4])), 'so', so, 'ds', 'queued', 'dp', '', 'du', ms(now), 'dr', '')
    if ARGV[13] ~= '' then redis.call('HSET', key, 'ch', ARGV[13]) end
    bump()
    return {'resent', id, redis.call('HGETALL', key)}
  end
end
if sent >= tonumber(ARGV[6]) then return limited() end
enqueue(ARGV[3], 1)
local fields = {}
for i = 17, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[3], unpack(fields))
redis.call('PEXPIREAT', KEYS[3], ms(tonumber(ARGV[8]) + tonumber(ARGV[5])))
if indexed then redis.call('SET', KEYS[1], ARGV[3], 'PXAT', ARGV[8]) end
if ARGV[14] ~= '' then redis.call('ZADD', KEYS[5], ARGV[14], ARGV[3] .. '|0') end
local keep = tonumber(ARGV[15])
if keep > 0 then
  -- newest ids by creation time; older than the retention or past the cap drop out
  redis.call('ZADD', KEYS[6], now, ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. ms(now - keep))
  redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -1 - tonumber(ARGV[16]))
  redis.call('PEXPIRE', KEYS[6], ARGV[15])
end
bump()
return {'created'}
