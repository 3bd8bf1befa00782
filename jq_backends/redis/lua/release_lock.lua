-- release_lock.lua: free a lock if this token holds it (Broker.release_lock).
--
-- KEYS[1] the lock
-- ARGV: the token
-- Returns 1 when the token held the lock (now freed), 0 (nothing written) otherwise.
--
-- Atomically: the compare and the DEL, so a holder whose lock expired and was taken by someone
-- else can never free the new holder's lock.

expect_keys(1)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return 0
end
redis.call('DEL', KEYS[1])
return 1
