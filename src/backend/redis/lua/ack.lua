-- Acknowledge and delete a delivered send.   KEYS[1] stream   ARGV[1] group  ARGV[2] id
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
