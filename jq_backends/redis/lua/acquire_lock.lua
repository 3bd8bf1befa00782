-- acquire_lock.lua: take a lock if nobody holds it (Broker.acquire_lock), for a broker that waits
-- for replicas (wait_replicas). Without wait_replicas the driver sends SET NX PX alone; as a
-- script the call carries a request identity, so a call sent again after a WAIT no replica
-- confirmed gets its first reply (taken) instead of finding its own token there (not taken).
--
-- KEYS[1] the lock
-- ARGV: the token, the expiry in ms
-- Returns 1 when taken, 0 (nothing written) when the lock is held.
--
-- Atomically: one SET NX PX, as without wait_replicas.

expect_keys(1)
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return 1
end
return 0
