-- group_add.lua: put ids in a job group (GroupStore.group_add), for a broker that waits for
-- replicas (wait_replicas); without it the driver sends the same SADDs as one MULTI.
--
-- KEYS[1] the group's set of ids   KEYS[2] the set of group names
-- ARGV: the group's name, then the ids to add
-- Returns nothing.
--
-- Atomically: the ids join the group and the group's name the set of group names.

expect_keys(2)
local group_key, groups_key = KEYS[1], KEYS[2]
expect_types({group_key, 'set', groups_key, 'set'})
local name = next_arg()
local ids = rest_of_args()
for i = 1, #ids, 200 do
    redis.call('SADD', group_key, unpack(ids, i, math.min(i + 199, #ids)))
end
redis.call('SADD', groups_key, name)
return false
