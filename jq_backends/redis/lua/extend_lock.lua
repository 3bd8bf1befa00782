-- extend_lock.lua: hold a lock longer if this token still holds it (Broker.extend_lock).
--
-- KEYS[1] the lock
-- ARGV: the token, the new expiry in ms
-- Returns 1 when extended, 0 (nothing written) when the lock expired or another token holds it.
--
-- Atomically: the compare and the PEXPIRE, so a holder whose lock expired and was taken by
-- someone else can never extend the new holder's lock.

expect_keys(1)
local lock_key = KEYS[1]
local token, ttl_ms = ARGV[1], ARGV[2]
if redis.call('GET', lock_key) ~= token then
    return 0
end
redis.call('PEXPIRE', lock_key, ttl_ms)
return 1
