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
local name = next_arg()
local expiry_ms = next_arg()
local queues = next_list()
local fields = next_pairs()

if redis.call('EXISTS', KEYS[1]) == 1 then
    return 0
end
if #fields == 0 then
    -- Redis has no empty hash, and the record's existence is what makes the worker live.
    fields = {F_PRESENCE, ''}
end
hset_flat(KEYS[1], fields)
redis.call('PEXPIRE', KEYS[1], expiry_ms)
redis.call('SADD', KEYS[3], name)
redis.call('DEL', KEYS[2])
for i, queue_name in ipairs(queues) do
    redis.call('SADD', KEYS[2], queue_name)
    redis.call('SADD', KEYS[3 + i], name)
end
if #queues > 0 then
    redis.call('PEXPIRE', KEYS[2], expiry_ms)
end
return 1
