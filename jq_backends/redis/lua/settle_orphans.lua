-- settle_orphans.lua: settle the deferred jobs of a queue that wait for a job with no record
-- (Broker.settle_orphans).
--
-- KEYS[1] the queue's deferred registry   KEYS[2] the set of known queue names
-- ARGV: the settlement under POLICY_VANISHED and now (see lib_transition.lua's next_settlement),
--   then, to the end of ARGV, the released field/value pairs
-- Returns the ids of the deferred jobs that stopped waiting for a vanished dependency, in
-- registry order.
--
-- Atomically: for each id of the registry (a snapshot in score order), an id whose record is
-- gone leaves the registry; a job with status 'deferred' that waits for ids without a record
-- has each of them settled as vanished, exactly as a transition under POLICY_VANISHED settles a
-- job's dependents (released if it allows failure and nothing else is unmet, else canceled, and
-- its own dependents in turn, down the chain). The vanished job's dependents set went with its
-- record, so the child is put back in it for the settlement, which deletes it again. Touches
-- keys of many jobs: Cluster needs one hash slot. A child whose record or set of dependencies
-- holds another type is left as it is (the claim and the CLI report such keys).

expect_keys(2)
local deferred_key, known_key = KEYS[1], KEYS[2]
expect_types({deferred_key, 'zset', known_key, 'set'})
-- The parts settle_dependents reads, named as in a transition (lib_transition.lua's
-- next_transition); job_id and dependents_key are each vanished job's.
local t = {known_key = known_key, settlement = next_settlement(POLICY_VANISHED, true)}
t.released_fields = rest_of_args()
local settled = {}
for _, child in ipairs(redis.call('ZRANGE', deferred_key, 0, -1)) do
    local record = K_JOB .. child
    local found = type_of(record)
    if found == 'none' then
        redis.call('ZREM', deferred_key, child)
    elseif found == 'hash' and redis.call('HGET', record, F_STATUS) == S_DEFERRED
            and holds(K_DEPENDENCIES .. child, 'set') then
        local gone = {}
        for _, parent in ipairs(redis.call('SMEMBERS', K_DEPENDENCIES .. child)) do
            if redis.call('EXISTS', K_JOB .. parent) == 0 then
                gone[#gone + 1] = parent
            end
        end
        table.sort(gone)
        for _, parent in ipairs(gone) do
            t.job_id, t.dependents_key = parent, K_DEPENDENTS .. parent
            redis.call('SADD', t.dependents_key, child)
            settle_dependents(t)
        end
        if #gone > 0 then
            settled[#settled + 1] = child
        end
    end
end
return settled
