-- garita: take up to ARGV[3] outbox events due by ARGV[1] (KEYS[1] the due index),
-- leasing each until ARGV[2]; their ids, oldest due first.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
