-- claim_job.lua: claim one given job, as claim.lua would (Broker.claim_job).
--
-- KEYS[1] the job's record   KEYS[2] the queue   KEYS[3] its started registry
-- KEYS[4] the queue's wake key   KEYS[5], KEYS[6], KEYS[7] the job's results, set of dependents
-- and set of unmet dependencies
-- ARGV: lease deadline (the started registry score), then, to the end of ARGV, field/value
--       pairs
-- Returns the record as it was before the claim wrote (the caller adds the fields it sent and
-- status 'started') as {field, value, ...}, or false (nil) when the job has no record or its
-- status is not 'queued' (then nothing was written); also false when its key holds something else
-- than a record (a hash). Raises an error, before writing anything, when the queue, its started
-- registry or its wake key holds the wrong type.
--
-- Atomically: removes the id from the queue if it is there, writes the fields and status
-- 'started', removes the expiry of the record, its results and dependency sets, and enters the
-- id in the started registry.

expect_keys(7)
local record_key, queue_key, started_key, wake_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local results_key, dependents_key, dependencies_key = KEYS[5], KEYS[6], KEYS[7]
local lease_until = next_arg()
local fields = rest_of_args()
local job_id = name_of(record_key, K_JOB)

expect_types({queue_key, 'list', started_key, 'zset', wake_key, 'list'})
if type_of(record_key) ~= 'hash' then
    return false
end
local record = redis.call('HGETALL', record_key)
if status_of(record) ~= S_QUEUED then
    -- No record, or another worker claimed (or something ended) it first: never run a job twice.
    return false
end
if redis.call('LREM', queue_key, 0, job_id) > 0 then
    settle_wake(queue_key, wake_key)
end
hset_flat(record_key, with_status(fields, S_STARTED))
persist_data({record_key, results_key, dependents_key, dependencies_key})
redis.call('ZADD', started_key, lease_until, job_id)
return record
