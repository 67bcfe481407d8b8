-- Record delivery progress: never backwards, never out of a final status (mirrors
-- `store::progress::delivery_moves`).
-- KEYS[1] record   ARGV[1] status  ARGV[2] provider ('' keeps it)  ARGV[3] now ms
-- ARGV[4] reason ('' = none: a change without a reason clears the last one)
-- ARGV[5] (receipts): the receipt's mark field; a mark already on the record means a
-- replay, and nothing changes.
-- ARGV[6] (receipts, may be ''): the send count the message was linked with; a record
-- that has sent again since (a resend, a workflow step) keeps the mark and moves
-- nothing.
-- Returns 1 when the status moved, 0 when not (or the record is gone), 2 for a replay,
-- 3 for a receipt of an earlier send.
-- `delivered.lua` runs this body as its function `progress`.
local rank = {queued = 0, sending = 1, sent = 2, delivered = 3, undelivered = 3, failed = 3, expired = 3}
local cur = redis.call('HGET', KEYS[1], 'ds')
if not cur then return 0 end
if ARGV[5] and ARGV[5] ~= '' then
  if redis.call('HSETNX', KEYS[1], ARGV[5], '1') == 0 then return 2 end
  if ARGV[6] and ARGV[6] ~= '' and redis.call('HGET', KEYS[1], 'sc') ~= ARGV[6] then
    return 3
  end
end
local from = rank[cur] or 0
if from == 3 or rank[ARGV[1]] < from then return 0 end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'ds', ARGV[1], 'dp', ARGV[2], 'du', ARGV[3], 'dr', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'ds', ARGV[1], 'du', ARGV[3], 'dr', ARGV[4])
end
return 1
