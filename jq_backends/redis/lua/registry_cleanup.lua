-- registry_cleanup.lua: remove and return a registry's expired ids (Broker.registry_cleanup).
--
-- KEYS[1] the registry
-- ARGV[1] the bound: ids whose score is at or below it are removed
-- Returns the removed ids by ascending score. A registry key of another type is refused, naming
-- the key.
--
-- Atomically: the read and the removal, so an id added or rescored in between is never lost.

expect_keys(1)
local registry_key = KEYS[1]
local bound = ARGV[1]
expect_types({registry_key, 'zset'})
local expired = redis.call('ZRANGEBYSCORE', registry_key, '-inf', bound)
if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', registry_key, '-inf', bound)
end
return expired
