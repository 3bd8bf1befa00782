-- worker_names.lua: the live workers of an index, pruning dead entries (Broker.worker_names).
--
-- KEYS[1] an index: the set of all workers, or the set of workers listening to one queue
-- ARGV: the queue name when KEYS[1] is one queue's index (none for the set of all workers)
-- Returns the names of live workers in the index (unsorted).
--
-- Atomically: a name is live when its record exists and, for a queue's index, when the worker
-- still lists that queue (a worker that died and came back under the same name may listen to
-- other queues now). Dead names are removed from the index, so indexes do not grow with every
-- worker that was SIGKILLed. Reads keys of several workers: Cluster needs one hash slot.

expect_keys(1)
local index_key = KEYS[1]
local queue_name = ARGV[1]
local of_queue = queue_name ~= nil

local live = {}
for _, name in ipairs(redis.call('SMEMBERS', index_key)) do
    local alive = redis.call('EXISTS', K_WORKER .. name) == 1
    if alive and of_queue then
        alive = redis.call('SISMEMBER', K_WORKER_QUEUES .. name, queue_name) == 1
    end
    if alive then
        live[#live + 1] = name
    else
        redis.call('SREM', index_key, name)
    end
end
return live
