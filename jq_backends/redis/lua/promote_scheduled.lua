-- promote_scheduled.lua: queue the due jobs of a scheduled registry (Broker.promote_scheduled).
--
-- KEYS[1] the queue's scheduled registry   KEYS[2] the queue   KEYS[3] the queue's wake key
-- KEYS[4] the set of known queue names
-- ARGV: now (score; '' for the server's clock), limit, then, to the end of ARGV, field/value pairs to write
-- Returns {the ids queued, in score order; the due ids dropped because their job key holds
-- another type than a hash, each followed by what it holds}.
--
-- Atomically: takes due ids (score <= now) in score order until `limit` were queued or none is
-- due; ids whose record is gone are dropped from the registry; the others go to the back of the
-- queue (the front when their enqueue_at_front field is '1') with status 'queued' and the
-- fields, or, when their rate limit has no slot for them, to its line with status
-- 'rate_limited' (not counted, not returned); the queue becomes known; a blocked claimer is woken.
-- A due id whose job key is not a hash is not a job: it leaves the registry (else it would be
-- due first forever and hold up the jobs behind it), its key is left as it is, and it is reported.
-- The keys given are checked before the first write.
-- Touches keys of several jobs: Cluster needs one hash slot.

expect_keys(4)
local scheduled_key, queue_key, wake_key, known_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = next_arg()
if now == '' then
    -- The server's clock: every scheduler agrees on what is due, whatever its own clock says.
    now = string.format('%.17g', server_now())
end
local limit = tonumber(next_arg())
local given = rest_of_args()
local fields = with_status(given, S_QUEUED)
local queue_name = name_of(queue_key, K_QUEUE)
expect_types({scheduled_key, 'zset', queue_key, 'list', known_key, 'set'})

local queued, dropped = {}, {}
while #queued < limit do
    local due = redis.call('ZRANGEBYSCORE', scheduled_key, '-inf', now, 'LIMIT', 0, limit - #queued)
    if #due == 0 then
        break
    end
    for _, job_id in ipairs(due) do
        redis.call('ZREM', scheduled_key, job_id)
        local record = K_JOB .. job_id
        local found = type_of(record)
        if found ~= 'hash' and found ~= 'none' then
            dropped[#dropped + 1], dropped[#dropped + 2] = job_id, found
        elseif found == 'hash' then
            local v = redis.call('HMGET', record, F_ENQUEUE_AT_FRONT, F_RATE_LIMIT_KEY, F_RATE_LIMIT_CONCURRENCY)
            if may_queue(limit_from(v[2], v[3]), job_id, queue_name) then
                if v[1] == '1' then
                    redis.call('LPUSH', queue_key, job_id)
                else
                    redis.call('RPUSH', queue_key, job_id)
                end
                hset_flat(record, fields)
                queued[#queued + 1] = job_id
            else
                hset_flat(record, with_status(given, S_RATE_LIMITED))  -- due, it waits for a slot
            end
        end
    end
end
if #queued > 0 then
    redis.call('SADD', known_key, name_of(queue_key, K_QUEUE))
    wake(wake_key)
end
return {queued, dropped}
