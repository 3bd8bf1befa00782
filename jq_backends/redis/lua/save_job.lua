-- save_job.lua: replace a job's record, keeping its results and places (JobStore.save_job), for a
-- broker that waits for replicas (wait_replicas): as a script the save carries a request identity,
-- so a save sent again after a WAIT no replica confirmed applies once. Without wait_replicas the
-- driver sends the same writes as one MULTI (records.py).
--
-- KEYS[1] the job's record   KEYS[2] its results   KEYS[3] its dependents   KEYS[4] its dependencies
-- ARGV: the expiry in ms ('' for none), then the record's field/value pairs to the end
-- Returns nothing.
--
-- Atomically: the record holds exactly the fields given (none: it is deleted), and the four keys
-- share its expiry. The new fields are written before the stale ones are dropped, so that Redis
-- at maxmemory refuses the first write (HSET) and the record is left as it was.

expect_keys(4)
local record_key = KEYS[1]
local expiry_ms = next_arg()
local fields = rest_of_args()
if #fields == 0 then
    redis.call('DEL', record_key)
else
    local found = type_of(record_key)
    local stale = {}
    if found == 'hash' then
        local given = {}
        for i = 1, #fields, 2 do
            given[fields[i]] = true
        end
        for _, name in ipairs(redis.call('HKEYS', record_key)) do
            if not given[name] then
                stale[#stale + 1] = name
            end
        end
    elseif found ~= 'none' then
        redis.call('DEL', record_key)  -- not a record: replaced, as the MULTI's DEL would
    end
    hset_flat(record_key, fields)
    for i = 1, #stale, 200 do
        redis.call('HDEL', record_key, unpack(stale, i, math.min(i + 199, #stale)))
    end
end
for i = 1, 4 do
    if expiry_ms == '' then
        redis.call('PERSIST', KEYS[i])
    else
        redis.call('PEXPIRE', KEYS[i], expiry_ms)
    end
end
return false
