-- unregister_worker.lua: forget a worker (Broker.unregister_worker).
--
-- KEYS[1] the worker's record   KEYS[2] the worker's set of queues   KEYS[3] the set of workers
-- ARGV: none
-- Returns the number of queues the worker was listed under.
--
-- Atomically: removes the name from the index of each of its queues and from the set of
-- workers, and deletes its record and set of queues. Touches the indexes of several queues:
-- Cluster needs one hash slot.

expect_keys(3)
local record_key, queues_key, workers_key = KEYS[1], KEYS[2], KEYS[3]
local name = name_of(record_key, K_WORKER)

local queues = redis.call('SMEMBERS', queues_key)
for _, queue_name in ipairs(queues) do
    redis.call('SREM', K_WORKERS_OF .. queue_name, name)
end
redis.call('DEL', record_key, queues_key)
redis.call('SREM', workers_key, name)
return #queues
