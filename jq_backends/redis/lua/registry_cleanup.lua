-- registry_cleanup.lua: remove and return a registry's expired ids (Broker.registry_cleanup).
--
-- KEYS[1] the registry
-- ARGV[1] the bound: ids whose score is at or below it are removed
-- Returns the removed ids by ascending score.
--
-- Atomically: the read and the removal, so an id added or rescored in between is never lost.

expect_keys(1)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
end
return expired
