-- heartbeat_worker.lua: keep a worker alive and update its record (Broker.heartbeat_worker).
--
-- KEYS[1] the worker's record   KEYS[2] the worker's set of queues
-- ARGV: record expiry in ms, m, m field/value pairs, k, k field/increment pairs
-- Returns 1, or 0 (nothing written) when the record expired or the worker was unregistered.
-- Raises an error (nothing written) when a field to increment holds no number.
--
-- Atomically: the liveness check, the fields, the increments (HINCRBYFLOAT) and the new expiry
-- of the record and the worker's set of queues.

expect_keys(2)
local expiry_ms = next_arg()
local fields = next_pairs()
local increments = next_pairs()

if redis.call('EXISTS', KEYS[1]) == 0 then
    return 0
end

-- HINCRBYFLOAT fails on a non-number, and a script that fails half way keeps what it wrote:
-- check every increment against the value it will apply to before writing anything.
local written = {}
for i = 1, #fields, 2 do
    written[fields[i]] = fields[i + 1]
end
for i = 1, #increments, 2 do
    local value = written[increments[i]]
    if value == nil then
        value = redis.call('HGET', KEYS[1], increments[i])
    end
    if value and not tonumber(value) then
        return redis.error_reply('ERR worker field ' .. increments[i] .. ' does not hold a number')
    end
end

hset_flat(KEYS[1], fields)
for i = 1, #increments, 2 do
    redis.call('HINCRBYFLOAT', KEYS[1], increments[i], increments[i + 1])
end
redis.call('PEXPIRE', KEYS[1], expiry_ms)
redis.call('PEXPIRE', KEYS[2], expiry_ms)
return 1
