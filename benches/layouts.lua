-- Writes `count` pending verifications in one of several Redis key layouts, so the load
-- harness (`--mode layouts`) can compare their `used_memory`. Values have the sizes the
-- store writes (tenant `demo`, a +1 number, 13-digit millisecond instants, 16-byte seed);
-- names and ids come from SHA-1 of the index, so every call writes new keys.
-- ARGV[1] layout   ARGV[2] first index   ARGV[3] count
--
-- current         the v1 layout: record hash, pending-index string, send-counter string
-- merged          index and per-number counters in one hash per number (+ record hash)
-- merged_compact  merged, and a record keyed by its 24 random hex digits, 16-byte MAC,
--                 no channel field
-- one_key         one hash per number holding the pending record and the counters
-- one_key_packed  one string per number: the pending record packed field by field
--                 (no field names) with the counters, 120 bytes
local layout, first, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000
local function bin(nbytes)
  local out = {}
  for i = 1, nbytes do out[i] = string.char(math.random(0, 255)) end
  return table.concat(out)
end
for i = first, first + n - 1 do
  local shard = string.format('%04x', i % 64)
  local tag = 'otpgw:v1:{s' .. shard .. '}'
  local nk = string.sub(redis.sha1hex('n' .. i), 1, 32)
  local rnd = string.sub(redis.sha1hex('r' .. i), 1, 24)
  local id = 'vrf_' .. shard .. rnd
  local to = string.format('+1415%03d%04d', 230 + math.floor(i / 10000) % 700, i % 10000)
  local ex = now + 600000
  local window = now + 3600000
  local rec = {'t', 'demo', 'to', to, 'st', 'pending', 'ca', tostring(now), 'ex', tostring(ex),
    'sc', '1', 'ms', '5', 'nr', tostring(now + 30000), 'al', '5', 'ds', 'queued',
    'du', tostring(now), 'cl', '6', 'sd', bin(16)}
  local function add(k, v) rec[#rec + 1] = k; rec[#rec + 1] = v end
  if layout == 'current' or layout == 'merged' then
    add('ch', 'sms'); add('cm', bin(32))
  else
    add('cm', bin(16))
  end
  if layout == 'current' then
    local rk = tag .. ':v:' .. id
    redis.call('HSET', rk, unpack(rec))
    redis.call('PEXPIREAT', rk, ex + 3600000)
    redis.call('SET', tag .. ':n:demo:' .. nk .. ':sms', id, 'PXAT', ex)
    redis.call('INCR', tag .. ':ls:demo:' .. nk)
    redis.call('PEXPIRE', tag .. ':ls:demo:' .. nk, 3600000)
  elseif layout == 'merged' or layout == 'merged_compact' then
    local rk = (layout == 'merged') and (tag .. ':v:' .. id) or (tag .. ':v:' .. rnd)
    redis.call('HSET', rk, unpack(rec))
    redis.call('PEXPIREAT', rk, ex + 3600000)
    redis.call('HSET', tag .. ':n:' .. nk, 'sms', id, 's', 1, 'sw', tostring(window))
    redis.call('PEXPIREAT', tag .. ':n:' .. nk, window)
  elseif layout == 'one_key' then
    add('id', rnd); add('s', '1'); add('sw', tostring(window))
    redis.call('HSET', tag .. ':n:' .. nk, unpack(rec))
    redis.call('PEXPIREAT', tag .. ':n:' .. nk, window)
  elseif layout == 'one_key_packed' then
    local v = bin(4) .. to .. bin(32) .. bin(4) .. bin(16) .. bin(16) .. rnd .. bin(12)
    redis.call('SET', tag .. ':n:' .. nk, v, 'PXAT', window)
  else
    return redis.error_reply('unknown layout ' .. layout)
  end
end
return n
