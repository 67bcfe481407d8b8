-- A start behind its admission, one round trip on one Redis node (see `store::admit`).
-- Loaded after the bodies of gcra.lua, guard.lua and start.lua, each wrapped as a
-- function (`limits`, `pump`, `start`) called on its own slice of KEYS and ARGV.
-- ARGV[1] limit keys  ARGV[2] limit args  ARGV[3] guard keys  ARGV[4] guard args, then
-- the limit, guard and start args; KEYS: the limit, guard and start keys.
-- Returns {limits' reply or false, the guard's verdict or false, start's reply or
-- false}: a refusing stage (a limit, or the guard's outcome other than 'allowed') ends
-- the script with nothing written by the later ones.
local lk, la = tonumber(ARGV[1]), tonumber(ARGV[2])
local pk, pa = tonumber(ARGV[3]), tonumber(ARGV[4])
local lim, pmp = false, false
if lk > 0 then
  lim = limits(slice(KEYS, 1, lk), slice(ARGV, 5, la))
  if lim[1] ~= 'ok' then return {lim, false, false} end
end
if pk > 0 then
  pmp = pump(slice(KEYS, lk + 1, pk), slice(ARGV, 5 + la, pa))
  if pmp[1] ~= 'allowed' then return {lim, pmp, false} end
end
local out = start(slice(KEYS, lk + pk + 1, #KEYS - lk - pk), slice(ARGV, 5 + la + pa, #ARGV - 4 - la - pa))
return {lim, pmp, out}
