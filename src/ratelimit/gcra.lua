-- GCRA over every limit of one request. One round trip; all keys share the tenant's
-- hash tag {rl:<tenant>}, so one cluster slot. Mirrors `ratelimit::gcra` in Rust.
-- KEYS[i]   TAT of limit i (ms, as text)
-- ARGV[1]   the caller's clock (ms), unused: the script reads Redis's own clock, so
--           instances whose clocks differ by a few ms, or whose requests reach Redis in
--           another order than they read their clocks, still admit exactly q per window
-- ARGV[2i], ARGV[2i+1]  window ms and quota of limit i
-- Returns {'ok', ahead_us_1, ...} (TAT minus now, in microseconds) and charges every key, or
-- {'deny', i, retry_after_ms} and charges nothing.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local n = #KEYS
local new = {}
local worst_i, worst = 0, 0
for i = 1, n do
  local w = tonumber(ARGV[2 * i])
  local t = w / tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local nxt = tat + t
  local over = nxt - now - w
  if over > 0 and (worst_i == 0 or over > worst) then worst_i, worst = i, over end
  new[i] = nxt
end
if worst_i > 0 then return {'deny', worst_i, math.ceil(worst)} end
local out = {'ok'}
for i = 1, n do
  local ahead = new[i] - now
  redis.call('SET', KEYS[i], string.format('%.3f', new[i]), 'PX', math.max(1, math.ceil(ahead)))
  out[#out + 1] = math.floor(ahead * 1000)
end
return out
