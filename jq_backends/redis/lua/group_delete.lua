-- group_delete.lua: delete a job group (GroupStore.group_delete), for a broker that waits for
-- replicas (wait_replicas); without it the driver sends the same DEL and SREM as one MULTI. As a
-- script the call carries a request identity: sent again after a WAIT no replica confirmed, it
-- gets its first reply (the group existed) rather than finding it gone.
--
-- KEYS[1] the group's set of ids   KEYS[2] the set of group names
-- ARGV[1] the group's name
-- Returns 1 when the group existed, else 0.
--
-- Atomically: the group's ids and its name go together.

expect_keys(2)
local group_key, groups_key = KEYS[1], KEYS[2]
expect_types({groups_key, 'set'})
local deleted = redis.call('DEL', group_key)
redis.call('SREM', groups_key, ARGV[1])
return deleted
