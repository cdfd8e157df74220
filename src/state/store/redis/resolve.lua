-- garita: resolve a review unless another resolution won first. KEYS[1] is its record,
-- KEYS[2] the index of open reviews, KEYS[3..] the keys to block; ARGV[1] the record as
-- read, ARGV[2] the resolved one, ARGV[3] the blocks' note, ARGV[4] the review's id.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
redis.call('ZREM', KEYS[2], ARGV[4])
for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[3]) end
return 1
