-- A connector's request gate (workers/poller/redis-request-gate.ts), run atomically by Redis. Drops leases that
-- expired (a poller killed mid-request), then takes a lease if fewer than ARGV[3] are held and the next start the
-- rate allows has come. Redis's clock is the one clock of every poller.
--   KEYS[1]: the sorted set of leases held, scored by expiry; KEYS[2]: the time the next request may start.
--   ARGV[1]: this request's token; ARGV[2]: requests per second; ARGV[3]: requests in flight at most;
--   ARGV[4]: how long a lease lives (ms).
-- Returns 0 when the lease is taken, or how many milliseconds to wait before asking again.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 25 end
local nextStart = tonumber(redis.call('GET', KEYS[2]) or '0')
if nextStart > now then return math.ceil(nextStart - now) end
local lease = tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease * 2)
local interval = 1000 / tonumber(ARGV[2])
redis.call('SET', KEYS[2], tostring(now + interval), 'PX', math.ceil(interval) + 1000)
return 0
