-- Move a send to the shard's dead letters, then acknowledge and delete it.
-- KEYS[1] stream  KEYS[2] dead-letter stream
-- ARGV[1] group  ARGV[2] id  ARGV[3] reason  ARGV[4..] the entry's field/value pairs
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'reason', ARGV[3], unpack(fields))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
