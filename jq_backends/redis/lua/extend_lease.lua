-- extend_lease.lua: move a started job's lease deadline (Broker.extend_lease).
--
-- KEYS[1] the queue's started registry   KEYS[2] the job's record
-- ARGV: execution id, new lease deadline (score)
-- Returns 1 when the lease moved, 0 (nothing written) when the job is not in the started
-- registry or its record's execution field is not this execution id.
--
-- Atomically: both checks, then the score update; a stale execution cannot revive a lease.

expect_keys(2)
local started_key, record_key = KEYS[1], KEYS[2]
local execution_id, lease_until = ARGV[1], ARGV[2]
local job_id = name_of(record_key, K_JOB)

if redis.call('HGET', record_key, F_EXECUTION) ~= execution_id then
    return 0
end
-- XX and CH: only an id already in the registry gets the new score; 0 changed means it was not
-- there (or already had this very deadline, which is no refusal).
if redis.call('ZADD', started_key, 'XX', 'CH', lease_until, job_id) == 1 then
    return 1
end
return redis.call('ZSCORE', started_key, job_id) and 1 or 0
