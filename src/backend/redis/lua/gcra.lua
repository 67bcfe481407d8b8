-- GCRA over every limit of one request. One round trip; all keys share the tenant's
-- hash tag {rl:<tenant>}, so one cluster slot. Mirrors `ratelimit::gcra` in Rust.
-- Limits on one value share a key (a number's minute, hour and day limits: one key per
-- number, not three): the key holds their TATs space-separated, each at its fixed
-- position; positions a request does not name are kept as they are.
-- KEYS[k]   TATs (ms, as text) of the limits stored under key k
-- ARGV[1]   the caller's clock (ms), unused: the script reads Redis's own clock, so
--           instances whose clocks differ by a few ms, or whose requests reach Redis in
--           another order than they read their clocks, still admit exactly q per window
-- ARGV[4i-2 .. 4i+1]  limit i: key index, position in that key, window ms, quota
-- Returns {'ok', ahead_us_1, ...} (TAT minus now, in microseconds) and charges every key, or
-- {'deny', i, retry_after_ms} and charges nothing.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local tats = {}
for k = 1, #KEYS do
  local t = {}
  for x in string.gmatch(redis.call('GET', KEYS[k]) or '', '%S+') do t[#t + 1] = tonumber(x) end
  tats[k] = t
end
local n = (#ARGV - 1) / 4
local new = {}
local worst_i, worst = 0, 0
for i = 1, n do
  local b = 4 * i - 2
  local w = tonumber(ARGV[b + 2])
  local t = w / tonumber(ARGV[b + 3])
  local tat = tats[tonumber(ARGV[b])][tonumber(ARGV[b + 1])] or 0
  if tat < now then tat = now end
  local nxt = tat + t
  local over = nxt - now - w
  if over > 0 and (worst_i == 0 or over > worst) then worst_i, worst = i, over end
  new[i] = nxt
end
if worst_i > 0 then return {'deny', worst_i, math.ceil(worst)} end
local out = {'ok'}
for i = 1, n do
  local b = 4 * i - 2
  tats[tonumber(ARGV[b])][tonumber(ARGV[b + 1])] = new[i]
  out[#out + 1] = math.floor((new[i] - now) * 1000)
end
for k = 1, #KEYS do
  local t, last, ttl = tats[k], 0, 1
  for p in pairs(t) do if p > last then last = p end end
  local parts = {}
  for p = 1, last do
    local v = t[p] or 0
    if v - now > ttl then ttl = v - now end
    parts[p] = string.format('%.3f', v)
  end
  redis.call('SET', KEYS[k], table.concat(parts, ' '), 'PX', math.ceil(ttl))
end
return out
