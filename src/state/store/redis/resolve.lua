-- garita: resolve a review unless another resolution won first.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[3]) end
return 1
