-- A check behind its admission, one round trip on one Redis node (see `store::admit`).
-- Loaded after the bodies of gcra.lua and check.lua, wrapped as functions (`limits`,
-- `check`) called on their own slices of KEYS and ARGV.
-- ARGV[1] limit keys  ARGV[2] limit args  ARGV[3] approval keys (0 or 1)
-- ARGV[4] approval counter TTL ms, then the limit and check args;
-- KEYS: the limit keys, the pumping guard's approval counter, the check keys.
-- Returns {limits' reply or false, false, check's reply or false}.
local lk, la, ak = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local lim = false
if lk > 0 then
  lim = limits(slice(KEYS, 1, lk), slice(ARGV, 5, la))
  if lim[1] ~= 'ok' then return {lim, false, false} end
end
local out = check(slice(KEYS, lk + ak + 1, #KEYS - lk - ak), slice(ARGV, 5 + la, #ARGV - 4 - la))
if ak > 0 and out[1] == 'approved' then
  if redis.call('INCR', KEYS[lk + 1]) == 1 then redis.call('PEXPIRE', KEYS[lk + 1], ARGV[4]) end
end
return {lim, false, out}
