-- garita: one request's plan, run atomically (see src/state/store/redis/mod.rs and
-- core::plan for the order and the rules; src/state/store/engine.rs is the same in Rust).
local now = tonumber(ARGV[1])
local nk, nr, nb = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local nc, hc = tonumber(ARGV[5]), tonumber(ARGV[6])
local rates = {}
local stopped = false
local blocked = -1
-- One EXISTS for all blocked keys (nearly always none is); which one, only if one is.
if nk > 0 and redis.call('EXISTS', unpack(KEYS, 1, nk)) > 0 then
  for i = 1, nk do
    if redis.call('EXISTS', KEYS[i]) == 1 then
      blocked = i - 1
      stopped = true
      break
    end
  end
end
local k = nk
local a = 7
-- Shared rates run on Redis' clock, the one every instance shares: instances' clocks (or
-- requests reordered on their way here) would otherwise skew each other's arrival times.
local clock = (nr > 0 and not stopped) and redis.call('TIME') or {0, 0}
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
for i = 1, nr do
  if stopped then break end
  local key = KEYS[k + i]
  local interval, burst, enforced = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2] == '1'
  a = a + 3
  local tat = tonumber(redis.call('GET', key) or now_ms)
  if tat < now_ms then tat = now_ms end
  local nxt = tat + interval
  local allowance = interval * burst
  if nxt - now_ms > allowance then
    rates[#rates + 1] = {2, nxt - now_ms - allowance}
    if enforced then stopped = true break end
  else
    redis.call('SET', key, nxt, 'PX', math.max(1, nxt - now_ms))
    rates[#rates + 1] = {1, nxt}
  end
end
k = nk + nr
a = 7 + 3 * nr
local bindings = {}
for i = 1, nb do
  if stopped then break end
  local key, member = KEYS[k + i], ARGV[a]
  local max, expires, enforced = tonumber(ARGV[a + 1]), ARGV[a + 2], ARGV[a + 3] == '1'
  a = a + 4
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local known = redis.call('ZSCORE', key, member)
  local others = redis.call('ZCARD', key)
  if known then others = others - 1 end
  if (not known) and others >= max then
    bindings[#bindings + 1] = {2, others}
    if enforced then stopped = true break end
  else
    redis.call('ZADD', key, expires, member)
    -- The set lives as long as its longest-lived member: forever, or at least this one.
    if expires == '+inf' then
      redis.call('PERSIST', key)
    else
      -- Members of one set share their rule's window: finite for all, or for none.
      local ttl = math.max(1, math.ceil(tonumber(expires) - now))
      if redis.call('TTL', key) == -1 then
        redis.call('EXPIRE', key, ttl)
      else
        redis.call('EXPIRE', key, ttl, 'GT')
      end
    end
    bindings[#bindings + 1] = {1, others + 1}
  end
end
k = nk + nr + nb
a = 7 + 3 * nr + 4 * nb
local counters = {0}
if (not stopped) and nc > 0 then
  -- Count first, undo on a refusal: refusals are the rare case. A counter adds `add`
  -- (1 for a quota, an amount for a sum); one that adds 0 is only read, never created.
  counters = {1}
  for j = 1, nc do
    local key = KEYS[k + j]
    local at = a + (j - 1) * 4
    local limit, ttl = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
    local enforced, add = ARGV[at + 2] == '1', tonumber(ARGV[at + 3])
    local count
    if add == 0 then
      count = tonumber(redis.call('GET', key) or '0')
    else
      count = redis.call('INCRBY', key, add)
      if count == add then redis.call('EXPIRE', key, ttl) end
    end
    if enforced and count > limit then
      for u = 1, j do
        local undo = tonumber(ARGV[a + (u - 1) * 4 + 3])
        if undo > 0 then redis.call('DECRBY', KEYS[k + u], undo) end
      end
      counters = {2, j - 1}
      break
    end
    counters[#counters + 1] = count
  end
end
k = nk + nr + nb + nc
a = 7 + 3 * nr + 4 * nb + 4 * nc
local claim = 0
if (not stopped) and hc == 1 then
  local key = KEYS[k + 1]
  local seen = redis.call('GET', key)
  if seen == '1' then
    claim = 3
  elseif seen == '0' then
    claim = 2
  else
    redis.call('SET', key, '0', 'EX', tonumber(ARGV[a]))
    claim = 1
  end
end
return {blocked, rates, bindings, counters, claim}
