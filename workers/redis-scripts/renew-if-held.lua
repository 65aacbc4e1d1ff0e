-- Extends the life of KEYS[1] to ARGV[2] milliseconds, only if it still holds ARGV[1], the token its holder set.
-- Returns 1 if renewed, 0 if the key is gone or held by another.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
