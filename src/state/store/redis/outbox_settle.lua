-- garita: settle an outbox event. KEYS[1] the due index, KEYS[2] the event's record;
-- ARGV[1] its id, ARGV[2] '1' when delivered (forget it), else ARGV[3] the event to keep
-- and ARGV[4] when it is due again, unless it was settled meanwhile.
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
