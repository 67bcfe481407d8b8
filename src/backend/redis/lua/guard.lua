-- The SMS-pumping guard on Redis: one call per send or approval, every key under the
-- tenant's hash tag {pg:<tenant>} (one cluster slot). The decision mirrors
-- `model::decide` and its rules (`rules.rs`, `tally.rs`) line by line (the same float operations in the same order; counts in
-- thousandths of a send, rounded after each decay), the storage mirrors the memory
-- backend (`memory.rs`): two generations of tallies, the `max_tracked` cap with the
-- overflow field `~`, block records kept for their strikes. `tests/pumping_parity.rs`
-- requires the same verdicts from both.
-- KEYS[2i-1], KEYS[2i]  target i's tallies: current and previous generation (hashes)
-- KEYS[#KEYS]           the tenant's block records (hash `<channel>:<level>:<field>`)
-- ARGV[1] 'send' or 'approve'  ARGV[2] now ms  ARGV[3] recent_ms  ARGV[4] baseline_ms
-- ARGV[5] lag_ms  ARGV[6] prior  ARGV[7] floor  ARGV[8] z  ARGV[9] jump
-- ARGV[10] block_ms  ARGV[11] max_block_ms  ARGV[12] max_tracked  ARGV[13] tally TTL ms
-- ARGV[14] block records' TTL ms  ARGV[15] challenge passed (1/0)  ARGV[16] low score
-- ARGV[17] channel  ARGV[18] country
-- then per target, in `Level` order: level number, level name, field, label, on (1/0:
-- the level has a policy), action (0 shadow, 1 enforce, 2 challenge), budget, drop.
-- A send returns {outcome, overflowed, then per trip: target number, field, action,
-- new (1/0), until, strikes, rule (0 recent, 1 long), sends, approvals, expected,
-- baseline sends, tolerance}, the explanation's numbers as '%.17g' text (exact).
-- An approval returns {'ok'}.
local H, W = 18, 8
local PRIOR_WEIGHT, REST_MIN, CEILING = 10.0, 30.0, 0.98
local now = tonumber(ARGV[2])
local recent, baseline, lag = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local prior, low_floor = tonumber(ARGV[6]), tonumber(ARGV[7])
local z, jump = tonumber(ARGV[8]), tonumber(ARGV[9])
local block_ms, max_block, cap = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local ttl, keep = ARGV[13], ARGV[14]
local passed, low_score = ARGV[15] == '1', ARGV[16] == '1'
local channel, country = ARGV[17], ARGV[18]
local n = (#ARGV - H) / W
local blocks = KEYS[2 * n + 1]

local function f(x) return x / 1000.0 end
local function g(x) return string.format('%.17g', x) end
local function clamp(x, lo, hi)
  if x < lo then return lo elseif x > hi then return hi else return x end
end

-- Tallies: `rs,ra,ls,la,t` (`Tally::encode`).
local function decode(s)
  if not s then return nil end
  local v = {}
  for x in string.gmatch(s, '[^,]+') do v[#v + 1] = tonumber(x) end
  if #v < 5 then return nil end
  return {rs = v[1], ra = v[2], ls = v[3], la = v[4], t = v[5]}
end
local function encode(t)
  return string.format('%d,%d,%d,%d,%d', t.rs, t.ra, t.ls, t.la, t.t)
end
-- `Tally::new(now).decayed(now)` for a level not seen before, else `Tally::decayed`.
local function decayed(t)
  if not t then return {rs = 0, ra = 0, ls = 0, la = 0, t = now} end
  if now > t.t then
    local dt = now - t.t
    local fr = math.exp(-dt / recent)
    local fl = math.exp(-dt / baseline)
    t.rs = math.floor(t.rs * fr + 0.5)
    t.ra = math.floor(t.ra * fr + 0.5)
    t.ls = math.floor(t.ls * fl + 0.5)
    t.la = math.floor(t.la * fl + 0.5)
    t.t = now
  end
  return t
end

-- `Gens::find`: the stored tally of `field` (current generation, then previous), or
-- where a new one goes: the overflow entry when the current generation is full.
local function find(i, field)
  local cur, prev = KEYS[2 * i - 1], KEYS[2 * i]
  local v = redis.call('HGET', cur, field) or redis.call('HGET', prev, field)
  if v then return field, decode(v) end
  if redis.call('HLEN', cur) >= cap then
    local o = redis.call('HGET', cur, '~') or redis.call('HGET', prev, '~')
    return '~', decode(o or nil)
  end
  return field, nil
end

-- A generation's key gets its TTL when a level is added to it: writes go only to the
-- generation of `now`, so the key outlives its last new level by the TTL and no more.
local function store(i, field, t)
  if redis.call('HSET', KEYS[2 * i - 1], field, encode(t)) == 1 then
    redis.call('PEXPIRE', KEYS[2 * i - 1], ttl)
  end
end

if ARGV[1] == 'approve' then
  -- `memory::approve_now`: a level not yet tracked whose level is full is skipped.
  for i = 1, n do
    local want = ARGV[H + W * (i - 1) + 3]
    local field, t = find(i, want)
    if field == want or t then
      t = decayed(t)
      t.ra = t.ra + 1000
      t.la = t.la + 1000
      store(i, field, t)
    end
  end
  return {'ok'}
end

-- A block record (`encode_block`): until|strikes|action|since|rule|sends|approvals|
-- expected|baseline|tolerance|country|label; nil when absent or unreadable.
local function read_block(raw)
  if not raw then return nil end
  local p, from = {}, 1
  while #p < 10 do
    local at = string.find(raw, '|', from, true)
    if not at then return nil end
    p[#p + 1] = tonumber(string.sub(raw, from, at - 1))
    if p[#p] == nil then return nil end
    from = at + 1
  end
  if p[3] < 0 or p[3] > 2 then return nil end
  return {until_ms = p[1], strikes = p[2], action = p[3],
          explain = {p[5] == 1 and 1 or 0, p[6], p[7], p[8], p[9], p[10]}}
end

-- Each target as stored: where it counts (the overflow entry maybe), its tally, its block.
local tg, overflowed = {}, 0
for i = 1, n do
  local b = H + W * (i - 1)
  local x = {level = tonumber(ARGV[b + 1]), name = ARGV[b + 2], label = ARGV[b + 4],
             on = ARGV[b + 5] == '1', action = tonumber(ARGV[b + 6]),
             budget = tonumber(ARGV[b + 7]), drop = tonumber(ARGV[b + 8])}
  local field, t = find(i, ARGV[b + 3])
  if field ~= ARGV[b + 3] then overflowed = overflowed + 1 end
  if field == '~' then x.label = '(overflow)' end
  x.field, x.tally = field, t
  x.bfield = channel .. ':' .. x.name .. ':' .. field
  tg[i] = x
end
-- Every target's block record in one read.
if n > 0 then
  local names = {}
  for i = 1, n do names[i] = tg[i].bfield end
  local recs = redis.call('HMGET', blocks, unpack(names))
  for i = 1, n do tg[i].prior = read_block(recs[i] or nil) end
end

local function reply(outcome, trips)
  local out = {outcome, overflowed}
  for _, tr in ipairs(trips) do
    local e = tr[7]
    for _, v in ipairs({tr[1], tr[2], tr[3], tr[4], tr[5], tr[6], e[1]}) do out[#out + 1] = v end
    for k = 2, 6 do out[#out + 1] = g(e[k]) end
  end
  return out
end

-- Existing blocks first: a refused send is neither judged nor counted.
local trips, outcome = {}, 'allowed'
for i = 1, n do
  local x, b = tg[i], tg[i].prior
  -- A level now in shadow (the tenant switched) reports rather than refuses.
  if b and x.on and x.action ~= 0 and not (b.until_ms <= now or b.action == 0) then
    if b.action == 1 then
      outcome = 'blocked'
    elseif not passed and outcome == 'allowed' then
      outcome = 'challenge'
    end
    trips[#trips + 1] = {i, x.field, b.action, 0, b.until_ms, b.strikes, b.explain}
  end
end
if outcome ~= 'allowed' or n == 0 then return reply(outcome, trips) end

local ps = 1.0 - math.exp(-lag / recent)

local function expected(t, parent, anchor)
  local old_s = f(math.max(t.ls - t.rs, 0))
  local old_a = f(math.max(t.la - t.ra, 0))
  local low = math.max(anchor * 0.5, low_floor)
  return clamp((old_a + PRIOR_WEIGHT * parent) / (old_s + PRIOR_WEIGHT), low, CEILING)
end

local function scale(tenant, ctry)
  local rest_s = f(tenant.rs - ctry.rs)
  if rest_s < REST_MIN then return 1.0, false end
  local rest_a = f(math.max(tenant.ra - ctry.ra, 0))
  local old_s = f(math.max((tenant.ls - tenant.rs) - (ctry.ls - ctry.rs), 0))
  local old_a = f(math.max((tenant.la - tenant.ra) - (ctry.la - ctry.ra), 0))
  local base = clamp((old_a + PRIOR_WEIGHT * prior) / (old_s + PRIOR_WEIGHT), low_floor, CEILING)
  local now_conv = rest_a / (rest_s * (1.0 - ps))
  return clamp(now_conv / base, 0.05, 1.0), true
end

local function judge_recent(t, own, fct, budget, drop, jump_needed)
  local rs1 = f(t.rs) + 1.0
  local ra = f(t.ra)
  local pe = math.max(own * fct, 0.01)
  local pending = rs1 * ps * pe
  local deficit = rs1 * pe - ra
  local tol = budget + z * math.sqrt(rs1 * pe * (1.0 - pe)) + pending
  local old_s = f(math.max(t.ls - t.rs, 0))
  local base_recent = old_s
  if baseline > recent then base_recent = old_s * recent / (baseline - recent) end
  local jumped = not jump_needed or rs1 > jump * base_recent + budget
  if deficit > tol and ra < drop * pe * rs1 and jumped then
    return {0, rs1, ra, pe, base_recent, tol}
  end
  return nil
end

local function judge_long(t, parent, fct, budget, drop)
  local rs1 = f(t.rs) + 1.0
  local ls1 = f(t.ls) + 1.0
  local la = f(t.la)
  local pl = math.max(parent * fct, 0.01)
  local pending = rs1 * ps * pl
  local deficit = ls1 * pl - la
  local tol = 0.5 * budget + z * math.sqrt(ls1 * pl * (1.0 - pl)) + pending
  if deficit > tol and la < drop * pl * ls1 then return {1, ls1, la, pl, 0.0, tol} end
  return nil
end

local function block_len(strikes)
  local d = block_ms
  for _ = 1, math.min(strikes, 64) - 1 do
    d = d * 2
    if d >= max_block then break end
  end
  return math.min(d, max_block)
end

local now_t = {}
for i = 1, n do now_t[i] = decayed(tg[i].tally) end
local fct, has_rest = scale(now_t[1], now_t[math.min(2, n)])
local parent, anchor, country_p = prior, prior, prior
for i = 1, n do
  local x, t = tg[i], now_t[i]
  local source = x.level >= 5
  local own
  if source then own = country_p else own = expected(t, parent, anchor) end
  if x.level == 0 then anchor = own end
  local judged = nil
  -- A level under an active block was answered above (a passed challenge).
  local active = x.prior and x.prior.until_ms > now and x.prior.action ~= 0 and x.on and x.action ~= 0
  -- The overflow entry pools every newcomer of a full level: counted, never judged.
  if x.on and x.level ~= 0 and not active and x.field ~= '~' then
    -- A level blocked before is on probation: its budget is spent.
    local budget = x.budget
    if x.prior and x.prior.strikes > 0 then
      budget = 0.0
    elseif source and low_score then
      budget = x.budget / 2.0
    end
    local jump_needed = x.level == 1 and not has_rest
    judged = judge_recent(t, own, fct, budget, x.drop, jump_needed)
    if not judged and x.level >= 2 and x.level <= 4 then
      judged = judge_long(t, parent, fct, budget, x.drop)
    end
  end
  if not source then
    parent = own
    if x.level == 1 then country_p = own end
  end
  if judged then
    local strikes, until_ms = x.prior and x.prior.strikes or 0, 0
    if x.action ~= 0 then
      strikes = strikes + 1
      until_ms = now + block_len(strikes)
    end
    if x.action == 1 then
      outcome = 'blocked'
    elseif x.action == 2 and not passed and outcome == 'allowed' then
      outcome = 'challenge'
    end
    trips[#trips + 1] = {i, x.field, x.action, 1, until_ms, strikes, judged}
    if until_ms > 0 then
      local e = judged
      local rec = {string.format('%d', until_ms), strikes, x.action, string.format('%d', now),
                   e[1], g(e[2]), g(e[3]), g(e[4]), g(e[5]), g(e[6]), country, x.label}
      redis.call('HSET', blocks, x.bfield, table.concat(rec, '|'))
      redis.call('PEXPIRE', blocks, keep)
    end
  end
end
if outcome == 'allowed' then
  for i = 1, n do
    local t = now_t[i]
    t.rs = t.rs + 1000
    t.ls = t.ls + 1000
    store(i, tg[i].field, t)
  end
end
return reply(outcome, trips)
