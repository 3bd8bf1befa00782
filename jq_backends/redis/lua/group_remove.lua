-- group_remove.lua: take ids out of a job group (GroupStore.group_remove).
--
-- KEYS[1] the group's set of ids   KEYS[2] the set of group names
-- ARGV: the group's name, then the ids to take out
-- Returns nothing.
--
-- Atomically: removes the ids; a group left empty leaves the set of group names (Redis deleted
-- its set of ids with its last member).

expect_keys(2)
local group_key, groups_key = KEYS[1], KEYS[2]
expect_types({group_key, 'set', groups_key, 'set'})
local name = next_arg()
local ids = rest_of_args()
for i = 1, #ids, 200 do
    redis.call('SREM', group_key, unpack(ids, i, math.min(i + 199, #ids)))
end
if redis.call('EXISTS', group_key) == 0 then
    redis.call('SREM', groups_key, name)
end
return false
