-- Read a verification for delivery and, when its send is due, mark it `sending`: one
-- round trip instead of a read and a write. Mirrors `store::send_verdict` (due or not).
-- KEYS[1] record   ARGV[1] now ms  ARGV[2] the queued message's send sequence
-- ARGV[3] '1' when the message was redelivered (taken over after a stop or crash)
-- Returns the record's fields as they were before the mark (empty when gone).
local r = redis.call('HGETALL', KEYS[1])
if #r == 0 then return r end
local f = redis.call('HMGET', KEYS[1], 'st', 'ex', 'sc', 'ds')
local accepted = f[4] == 'sent' or f[4] == 'delivered' or f[4] == 'undelivered'
local due = f[1] == 'pending' and tonumber(f[2]) > tonumber(ARGV[1])
  and tonumber(f[3]) <= tonumber(ARGV[2]) and not (accepted and ARGV[3] == '1')
if due and (f[4] == 'queued' or f[4] == 'sending') then
  redis.call('HSET', KEYS[1], 'ds', 'sending', 'du', ARGV[1], 'dr', '')
end
return r
