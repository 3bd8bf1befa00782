-- suspend.lua: set or clear the key that suspends workers (Broker.suspend, Broker.resume), for a
-- broker that waits for replicas (wait_replicas); without it the driver sends SET or DEL alone.
--
-- KEYS[1] the suspension key
-- ARGV[1] 'resume' to clear it; '' to suspend with no end; else the expiry in ms
-- Returns nothing.
--
-- Atomically: one SET or DEL, as without wait_replicas.

expect_keys(1)
local suspended_key, until_ms = KEYS[1], ARGV[1]
if until_ms == 'resume' then
    redis.call('DEL', suspended_key)
elseif until_ms == '' then
    redis.call('SET', suspended_key, '1')
else
    redis.call('SET', suspended_key, '1', 'PX', until_ms)
end
return false
