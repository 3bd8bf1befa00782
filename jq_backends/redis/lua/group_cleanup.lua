-- group_cleanup.lua: drop the ids of a job group whose record is gone (GroupStore.group_cleanup).
--
-- KEYS[1] the group's set of ids   KEYS[2] the set of group names
-- ARGV[1] the group's name
-- Returns the ids left.
--
-- Atomically: every id whose job record does not exist (deleted, expired) leaves the group; a
-- group left empty leaves the set of group names. Touches the records of the group's jobs:
-- Cluster needs one hash slot.

expect_keys(2)
local group_key, groups_key = KEYS[1], KEYS[2]
expect_types({group_key, 'set', groups_key, 'set'})
local name = ARGV[1]
local left = {}
for _, id in ipairs(redis.call('SMEMBERS', group_key)) do
    if redis.call('EXISTS', K_JOB .. id) == 1 then
        left[#left + 1] = id
    else
        redis.call('SREM', group_key, id)
    end
end
if #left == 0 then
    redis.call('SREM', groups_key, name)
end
return left
