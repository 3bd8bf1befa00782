-- release_rate_limit_slots.lua: free the slots of a rate limit that no job holds any more, then
-- admit waiting jobs (RateLimitStore.release_rate_limit_slots).
--
-- KEYS: none (a rate limit's keys are built from its name, as every script that moves jobs does)
-- ARGV: the rate limit's key, now (a score), 'i' with the ids to check or 'a' for every holder,
--   then n and the n ids ('i'), then, to the end of ARGV, the field/value pairs written on each
--   admitted job
-- Returns the ids admitted, in line order.
--
-- Atomically: a holder's slot is freed when its record is gone, or when its status is neither
-- 'queued' nor 'started' and either it was named ('i': the worker of a stale execution) or its
-- slot's score (the lease deadline of a job canceled while it ran) is not after now; then the
-- line moves (lib_rate_limit.lua's fill), and a key left unused is forgotten. Touches keys of
-- several jobs: Cluster needs one hash slot.

local key, now, mode = next_arg(), tonumber(next_arg()), next_arg()
local named = mode == 'i'
local ids
if named then
    ids = next_list()
end
local fields = rest_of_args()
local slots = K_RATE_LIMIT_SLOTS .. key
if not named then
    ids = redis.call('ZRANGE', slots, 0, -1)
end
for _, job_id in ipairs(ids) do
    local score = redis.call('ZSCORE', slots, job_id)
    if score then
        -- A job key of another type than a hash holds no job: its slot is freed like a gone one's.
        local status = redis.pcall('HGET', K_JOB .. job_id, F_STATUS)
        if type(status) == 'table' then
            status = nil
        end
        local holds = status == S_QUEUED or status == S_STARTED
        if not status or (not holds and (named or tonumber(score) <= now)) then
            redis.call('ZREM', slots, job_id)
        end
    end
end
local admitted = fill(key, fields)
forget_if_unused(key)
return admitted
