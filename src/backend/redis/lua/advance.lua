-- Move workflow verifications to their next step (mirrors `store::advance`): one
-- verification (mode 'one'), or each timer of the shard that is due (mode 'due'). For
-- each: the step that is over appended to `wh`, the next one current (`wi`, `wt`,
-- `ch`), its send queued with the next sequence (`sc` + 1, its time in `so`), its timer
-- set when it has a timeout; all in the shard's slot.
-- KEYS[1] the shard's send stream   KEYS[2] the shard's step timers
-- ARGV[1] now ms  ARGV[2] record key prefix  ARGV[3] 'one' or 'due'
-- ARGV[4] id ('one')  ARGV[5] the step it must be on ('' any; 'one')  ARGV[6] why ('one')
-- ARGV[7] most timers to run ('due')
-- Returns a list of {id, outcome, seq, fields}: outcome 'advanced' (seq and the record's
-- fields set) or why not: 'not_pending', 'no_workflow', 'moved', 'delivered', 'last'.
local now = tonumber(ARGV[1])
local function ms(n) return string.format('%d', n) end
local function split(s, sep)
  local t = {}
  for p in string.gmatch(s, '([^' .. sep .. ']+)') do t[#t + 1] = p end
  return t
end
local function move(id, from, why)
  local key = ARGV[2] .. id
  local r = redis.call('HMGET', key, 'st', 'ex', 'ws', 'wi', 'ds', 'dp', 'wt', 'ch', 'sc', 't', 'wh', 'ca', 'so')
  if r[1] ~= 'pending' or tonumber(r[2]) <= now then return {id, 'not_pending'} end
  if not r[3] or r[3] == '' then return {id, 'no_workflow'} end
  local cur = tonumber(r[4] or '0')
  if from ~= '' and tonumber(from) ~= cur then return {id, 'moved'} end
  if why == 'timeout' and r[5] == 'delivered' then return {id, 'delivered'} end
  local steps = split(r[3], ',')
  if cur + 1 >= #steps then return {id, 'last'} end
  local nxt = split(steps[cur + 2], ':')
  local past = table.concat({r[8], r[6] or '', r[5], r[7] or r[12], ms(now), why}, '|')
  local wh = (r[11] and r[11] ~= '') and (r[11] .. ';' .. past) or past
  local sc = tonumber(r[9]) + 1
  local off = ms(now - tonumber(r[12]))
  local so = (r[13] and r[13] ~= '') and (r[13] .. ',' .. off) or off
  redis.call('XADD', KEYS[1], '*', 'v', id, 't', r[10], 's', sc, 'h', '', 'r', '')
  redis.call('HSET', key, 'wi', cur + 1, 'wt', ms(now), 'ch', nxt[1], 'ds', 'queued', 'dp', '',
    'du', ms(now), 'dr', '', 'wh', wh, 'sc', sc, 'so', so)
  if tonumber(nxt[2]) > 0 then
    redis.call('ZADD', KEYS[2], now + tonumber(nxt[2]), id .. '|' .. (cur + 1))
  end
  return {id, 'advanced', sc, redis.call('HGETALL', key)}
end
if ARGV[3] == 'one' then return {move(ARGV[4], ARGV[5], ARGV[6])} end
local out = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[7]))
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[2], m)
  local bar = string.find(m, '|', 1, true)
  if bar then out[#out + 1] = move(string.sub(m, 1, bar - 1), string.sub(m, bar + 1), 'timeout') end
end
return out
