-- Claims a webhook delivery in the idempotency ledger, or finds its answer (delivery-ledger.ts).
-- KEYS[1]: the delivery's claim (a string with a TTL); KEYS[2]: its long answer, when it has one;
-- KEYS[3..]: the ledger hashes of the slices still remembered, newest first, each the bucket of this delivery.
-- ARGV[1]: the delivery's field (a digest of its webhook-id); ARGV[2]: the claim's token (body digest, ':', holder);
-- ARGV[3]: the claim's TTL in ms; ARGV[4]: the body digest (its first 12 characters).
-- Returns {'answered', code} with the recorded answer's code, {'reused'} when the id is answered or held for
-- another body, {'claimed'} when this request now holds it, {'wait'} when another request holds it for this body.
local digest = ARGV[4]
for i = 3, #KEYS do
  local value = redis.call('HGET', KEYS[i], ARGV[1])
  if value then
    if string.sub(value, 1, 12) ~= digest then
      return { 'reused' }
    end
    local code = string.sub(value, 13)
    if code ~= '@' then
      return { 'answered', code }
    end
    local long = redis.call('GET', KEYS[2])
    if long then
      return { 'answered', long }
    end
    -- The long answer lapsed before its entry (it should not): claim afresh, as for a forgotten delivery.
    break
  end
end
if redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3], 'NX') then
  return { 'claimed' }
end
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, 12) ~= digest then
  return { 'reused' }
end
return { 'wait' }
