-- extend_lease.lua: move a started job's lease deadline (Broker.extend_lease).
--
-- KEYS[1] the queue's started registry   KEYS[2] the job's record
-- ARGV: job id, execution id, new lease deadline (score)
-- Returns 1 when the lease moved, 0 (nothing written) when the job is not in the started
-- registry or its record's execution field is not this execution id.
--
-- Atomically: both checks, then the score update; a stale execution cannot revive a lease.

expect_keys(2)
local job_id, execution_id, lease_until = ARGV[1], ARGV[2], ARGV[3]

if not redis.call('ZSCORE', KEYS[1], job_id) then
    return 0
end
if redis.call('HGET', KEYS[2], F_EXECUTION) ~= execution_id then
    return 0
end
redis.call('ZADD', KEYS[1], 'XX', lease_until, job_id)
return 1
