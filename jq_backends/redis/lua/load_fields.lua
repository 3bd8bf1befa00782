-- load_fields.lua: some fields of a job's record, and whether it exists (Broker.load_job_fields).
--
-- KEYS[1] the job's record
-- ARGV: the field names
-- Returns the values in the order of ARGV (nil for an absent field), or false (nil to the caller)
-- when there is no record.
--
-- Atomically: the existence check and the read. A script rather than MULTI because it writes
-- nothing: Redis at maxmemory refuses every command of a MULTI, reads too, but runs a script
-- until its first write.

expect_keys(1)
local record_key = KEYS[1]
if redis.call('EXISTS', record_key) == 0 then
    return false
end
return redis.call('HMGET', record_key, unpack(ARGV))
