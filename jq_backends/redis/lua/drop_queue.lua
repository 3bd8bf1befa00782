-- drop_queue.lua: empty a queue, or forget it (Broker.empty_queue and Broker.delete_queue).
--
-- KEYS[1] the queue   KEYS[2] its wake key   KEYS[3] the set of known queue names
-- ARGV: delete the jobs ('1'/'0'), forget the queue name ('1'/'0')
-- Returns how many ids the queue held.
--
-- Atomically: reads the queue's ids, deletes each job's record with its results and dependency
-- sets when asked, deletes the queue and its wake token, and removes the name from the known
-- queues when asked. Touches keys of several jobs: Cluster needs one hash slot.

expect_keys(3)
local delete_jobs = ARGV[1] == '1'
local forget = ARGV[2] == '1'

local ids = redis.call('LRANGE', KEYS[1], 0, -1)
if delete_jobs then
    for _, job_id in ipairs(ids) do
        redis.call('DEL', unpack(data_keys(job_id)))
    end
end
redis.call('DEL', KEYS[1], KEYS[2])
if forget then
    redis.call('SREM', KEYS[3], name_of(KEYS[1], K_QUEUE))
end
return #ids
