-- heartbeat_worker.lua: keep a worker alive and update its record (Broker.heartbeat_worker).
--
-- KEYS[1] the worker's record   KEYS[2] the worker's set of queues
-- ARGV: record expiry in ms, m, m field/value pairs, then, to the end of ARGV, field/increment
--       pairs
-- Returns 1, or 0 (nothing written) when the record expired or the worker was unregistered.
-- Raises an error (nothing written) when a field to increment holds no number.
--
-- Atomically: the liveness check, the fields, the increments (HINCRBYFLOAT) and the new expiry
-- of the record and the worker's set of queues.

expect_keys(2)
local record_key, queues_key = KEYS[1], KEYS[2]
local expiry_ms = next_arg()
local update = {key = record_key, fields = next_pairs(), increments = rest_of_args()}

if not worker_exists(update) then
    return 0
end
check_worker_updates({update}, 1)
apply_worker_update(update)
redis.call('PEXPIRE', record_key, expiry_ms)
redis.call('PEXPIRE', queues_key, expiry_ms)
return 1
