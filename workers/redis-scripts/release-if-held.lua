-- Deletes KEYS[1] only if it still holds ARGV[1], the token its holder set: a lock or a claim that lapsed may
-- have been taken by another holder since, and is theirs. Returns 1 if deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
