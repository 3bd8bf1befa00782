-- drop_queue.lua: empty a queue, or forget it (Broker.empty_queue and Broker.delete_queue).
--
-- KEYS[1] the queue   KEYS[2] its wake key   KEYS[3] the set of known queue names
-- KEYS[4] its reserved registry
-- ARGV: delete the jobs ('1'/'0'), forget the queue name ('1'/'0')
-- Returns how many ids the queue held, those reserved from it included.
--
-- Atomically: reads the queue's ids and those reserved from it (still in the queue for this, see
-- jq.broker.Reservation), deletes the queue, its reserved registry and its wake token, removes
-- the name from the known queues when asked, and deletes each job's record with its results and dependency
-- sets when asked (a job holding a rate-limit slot frees it: the jobs that admits go on their
-- queues, this one too). The queue, its reserved registry and the known queues are checked
-- before the first write.
-- Touches keys of several jobs: Cluster needs one hash slot.

expect_keys(4)
local queue_key, wake_key, known_key, reserved_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local delete_jobs = ARGV[1] == '1'
local forget = ARGV[2] == '1'
expect_types({queue_key, 'list', known_key, 'set', reserved_key, 'zset'})

local ids = redis.call('LRANGE', queue_key, 0, -1)
for _, job_id in ipairs(redis.call('ZRANGE', reserved_key, 0, -1)) do
    ids[#ids + 1] = job_id
end
redis.call('DEL', queue_key, wake_key, reserved_key)
if forget then
    redis.call('SREM', known_key, name_of(queue_key, K_QUEUE))
end
if delete_jobs then
    for _, job_id in ipairs(ids) do
        -- A job key of another type is not a job's record: deleted with the rest, holding no slot.
        local v = redis.pcall('HMGET', K_JOB .. job_id, F_STATUS, F_RATE_LIMIT_KEY, F_RATE_LIMIT_CONCURRENCY)
        if v.err then
            v = {}
        end
        redis.call('DEL', unpack(data_keys(job_id)))
        -- A deleted queued job frees its rate-limit slot; a job it admits goes on its queue,
        -- which is why the queue was emptied first.
        after_move(limit_from(v[2], v[3]), job_id, v[1], nil, {}, nil)
    end
end
return #ids
