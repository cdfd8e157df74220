-- garita: resolve a review unless another change won first. KEYS[1] is its record,
-- KEYS[2] the index of open reviews, KEYS[3] the outbox's due index, KEYS[4] the event's
-- record, KEYS[5..] the keys to block; ARGV[1] the record as read, ARGV[2] the resolved
-- one, ARGV[3] the blocks' note, ARGV[4] the review's id, ARGV[5] the event owed the shop
-- (empty: none), ARGV[6] its id, ARGV[7] when it is due.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
redis.call('ZREM', KEYS[2], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[4], ARGV[5])
  redis.call('ZADD', KEYS[3], ARGV[7], ARGV[6])
end
for i = 5, #KEYS do redis.call('SET', KEYS[i], ARGV[3]) end
return 1
