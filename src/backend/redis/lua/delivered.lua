-- A send a provider accepted, in one step: the shard's stream entry is acked and deleted
-- (`ack`, the body of ack.lua), the provider's message id is linked to the verification
-- for receipts, and the record's delivery moves to `sent` (`progress`, the body of
-- delivery.lua).
-- KEYS[1] record; then the shard's stream when ARGV[4] is set (the record's slot); then
-- the link key when ARGV[5] is set (another slot: one Redis node only).
-- ARGV[1] provider  ARGV[2] now ms  ARGV[3] consumer group  ARGV[4] stream entry id
-- ('' = no ack)  ARGV[5] verification id ('' = no link)  ARGV[6] link TTL ms
-- The link's value is `<id>#<send count>` (`store::MessageLink`), so a receipt can tell
-- an earlier send's message from the current one.
-- Returns what `progress` returns.
local k = 2
if ARGV[4] ~= '' then
  ack({KEYS[k]}, {ARGV[3], ARGV[4]})
  k = k + 1
end
if ARGV[5] ~= '' then
  local sc = redis.call('HGET', KEYS[1], 'sc')
  local link = ARGV[5]
  if sc then link = link .. '#' .. sc end
  redis.call('SET', KEYS[k], link, 'PX', ARGV[6])
end
return progress({KEYS[1]}, {'sent', ARGV[1], ARGV[2], ''})
