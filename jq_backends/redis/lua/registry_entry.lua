-- registry_entry.lua: add, rescore or remove one id of a registry (RegistryStore.registry_add,
-- registry_update_score, registry_remove), for a broker that waits for replicas (wait_replicas);
-- without it the driver sends ZADD or ZREM alone. As a script the call carries a request
-- identity: sent again after a WAIT no replica confirmed, it gets its first reply.
--
-- KEYS[1] the registry
-- ARGV: 'add', the score, the id | 'rescore', the score, the id | 'remove', the id
-- Returns 1 when the id was added, was there to rescore or was removed; else 0.
--
-- Atomically: the check that the id is there and its new score (ZADD XX without the script).

expect_keys(1)
local registry_key, action = KEYS[1], ARGV[1]
if action == 'remove' then
    return redis.call('ZREM', registry_key, ARGV[2])
end
local score, id = ARGV[2], ARGV[3]
if action == 'rescore' and not redis.call('ZSCORE', registry_key, id) then
    return 0
end
redis.call('ZADD', registry_key, score, id)
return 1
