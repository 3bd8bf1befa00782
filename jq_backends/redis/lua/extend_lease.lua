-- extend_lease.lua: move a started job's lease deadline (Broker.extend_lease).
--
-- KEYS[1] the queue's started registry   KEYS[2] the job's record
-- ARGV: execution id, new lease deadline (score)
-- Returns 1 when the lease moved, 0 (nothing written) when the job is not in the started
-- registry or its record's execution field is not this execution id.
--
-- Atomically: both checks, then the score update; a stale execution cannot revive a lease.

expect_keys(2)
local execution_id, lease_until = ARGV[1], ARGV[2]
local job_id = name_of(KEYS[2], K_JOB)

if redis.call('HGET', KEYS[2], F_EXECUTION) ~= execution_id then
    return 0
end
-- XX and CH: only an id already in the registry gets the new score; 0 changed means it was not
-- there (or already had this very deadline, which is no refusal).
if redis.call('ZADD', KEYS[1], 'XX', 'CH', lease_until, job_id) == 1 then
    return 1
end
return redis.call('ZSCORE', KEYS[1], job_id) and 1 or 0
