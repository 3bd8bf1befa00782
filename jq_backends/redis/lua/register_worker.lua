-- register_worker.lua: register a live worker under a name (Broker.register_worker).
--
-- KEYS[1] the worker's record   KEYS[2] the worker's set of queues   KEYS[3] the set of workers
-- KEYS[3 + i] the set of workers listening to queue i (i = 1..n)
-- ARGV: worker name, record expiry in ms, n, the n queue names, m, m field/value pairs
-- Returns 1, or 0 (nothing written) when a live worker already has this name.
--
-- Atomically: the liveness check, the record with its expiry, and every index entry (an empty
-- record gets the field F_PRESENCE, which readers leave out, so that it exists). The
-- worker's set of queues expires with its record (heartbeats extend both), so unregistering
-- can leave each index; entries left behind by a worker whose record expired are pruned by
-- worker_names.lua.

expect_keys(3)
local record_key, queues_key, workers_key = KEYS[1], KEYS[2], KEYS[3]
-- The set of workers listening to queue i.
local function index_of_queue(i)
    return KEYS[3 + i]
end
local name = next_arg()
local expiry_ms = next_arg()
local queues = next_list()
local fields = next_pairs()

if redis.call('EXISTS', record_key) == 1 then
    return 0
end
if #fields == 0 then
    -- Redis has no empty hash, and the record's existence is what makes the worker live.
    fields = {F_PRESENCE, ''}
end
hset_flat(record_key, fields)
redis.call('PEXPIRE', record_key, expiry_ms)
redis.call('SADD', workers_key, name)
redis.call('DEL', queues_key)
for i, queue_name in ipairs(queues) do
    redis.call('SADD', queues_key, queue_name)
    redis.call('SADD', index_of_queue(i), name)
end
if #queues > 0 then
    redis.call('PEXPIRE', queues_key, expiry_ms)
end
return 1
