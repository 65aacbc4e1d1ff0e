-- Records a webhook delivery's answer in the idempotency ledger in place of its claim (delivery-ledger.ts).
-- KEYS[1]: the claim; KEYS[2]: the current slice's hash (this delivery's bucket); KEYS[3]: the slice's counts;
-- KEYS[4]: the delivery's long answer.
-- ARGV[1]: the field; ARGV[2]: the entry (body digest and compact answer, or '@' for a long one); ARGV[3]: when
-- the slice is forgotten (Unix seconds); ARGV[4]: the claim's token; ARGV[5]: the long answer, or ''.
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[4], ARGV[5], 'EXAT', ARGV[3])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIREAT', KEYS[2], ARGV[3], 'NX')
redis.call('HINCRBY', KEYS[3], 'n', 1)
redis.call('EXPIREAT', KEYS[3], ARGV[3], 'NX')
if redis.call('GET', KEYS[1]) == ARGV[4] then
  redis.call('DEL', KEYS[1])
end
return 1
