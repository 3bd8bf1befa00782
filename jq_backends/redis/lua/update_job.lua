-- update_job.lua: write fields onto an existing job record (Broker.update_job).
--
-- KEYS[1] the job's record
-- ARGV: m, m field/value pairs
-- Returns 1 when written, 0 (nothing written) when there is no record.
--
-- Atomically: the existence check and the write (HSET alone would create a record).

expect_keys(1)
local record_key = KEYS[1]
local fields = next_pairs()
if redis.call('EXISTS', record_key) == 0 then
    return 0
end
hset_flat(record_key, fields)
return 1
