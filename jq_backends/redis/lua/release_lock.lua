-- release_lock.lua: free a lock if this token holds it (Broker.release_lock).
--
-- KEYS[1] the lock
-- ARGV: the token
-- Returns 1 when the token held the lock (now freed), 0 (nothing written) otherwise.
--
-- Atomically: the compare and the DEL, so a holder whose lock expired and was taken by someone
-- else can never free the new holder's lock.

expect_keys(1)
local lock_key = KEYS[1]
local token = ARGV[1]
if redis.call('GET', lock_key) ~= token then
    return 0
end
redis.call('DEL', lock_key)
return 1
