-- garita: change a review record unless it changed since it was read (KEYS[1] the
-- record, ARGV[1] what was read, ARGV[2] the new record).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
