-- A check behind its admission, one round trip on one Redis node (see `store::admit`).
-- Loaded after the bodies of gcra.lua, guard.lua and check.lua, wrapped as functions
-- (`limits`, `pump`, `check`) called on their own slices of KEYS and ARGV.
-- ARGV[1] limit keys  ARGV[2] limit args  ARGV[3] guard keys  ARGV[4] guard args (the
-- guard's approval: 0 and 0 when the guard is off), then the limit, guard and check
-- args; KEYS: the limit, guard and check keys.
-- Returns {limits' reply or false, the guard's reply or false, check's reply or false};
-- the guard counts the approval only when the check approves; a failure to count it
-- does not undo the check (as in `store::admit::check_in_turn`): its reply is then
-- {'error', message}.
local lk, la = tonumber(ARGV[1]), tonumber(ARGV[2])
local pk, pa = tonumber(ARGV[3]), tonumber(ARGV[4])
local lim, pmp = false, false
if lk > 0 then
  lim = limits(slice(KEYS, 1, lk), slice(ARGV, 5, la))
  if lim[1] ~= 'ok' then return {lim, false, false} end
end
local out = check(slice(KEYS, lk + pk + 1, #KEYS - lk - pk), slice(ARGV, 5 + la + pa, #ARGV - 4 - la - pa))
if pk > 0 and out[1] == 'approved' then
  local ok, r = pcall(pump, slice(KEYS, lk + 1, pk), slice(ARGV, 5 + la, pa))
  if ok then pmp = r else pmp = {'error', type(r) == 'table' and tostring(r.err) or tostring(r)} end
end
return {lim, pmp, out}
