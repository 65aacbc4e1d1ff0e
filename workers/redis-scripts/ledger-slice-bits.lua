-- How many buckets (2^bits) a slice of a connector's idempotency ledger has, fixed when the slice is first written
-- (delivery-ledger.ts): enough for the previous slice's deliveries at ARGV[3] per bucket, so that each bucket stays a
-- small, listpack-encoded hash.
-- KEYS[1]: the slice's counts; KEYS[2]: the previous slice's counts.
-- ARGV[1]: fewest bits; ARGV[2]: most bits; ARGV[3]: deliveries per bucket aimed at; ARGV[4]: when the slice is
-- forgotten (Unix seconds). Returns the bits.
local bits = redis.call('HGET', KEYS[1], 'b')
if bits then
  return tonumber(bits)
end
local previous = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
local b = tonumber(ARGV[1])
local most = tonumber(ARGV[2])
local per = tonumber(ARGV[3])
while b < most and previous > per * 2 ^ b do
  b = b + 1
end
redis.call('HSET', KEYS[1], 'b', b)
redis.call('EXPIREAT', KEYS[1], ARGV[4])
return b
