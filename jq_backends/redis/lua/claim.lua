-- claim.lua: take the next job from the first of several queues that has one (Broker.claim).
--
-- KEYS[3i - 2], KEYS[3i - 1], KEYS[3i]: queue i, its started registry, its wake key, for the
--   queues in the order they are to be tried (i = 1..n, n = #KEYS / 3)
-- ARGV: lease deadline (the started registry score), key templates of a job's record
--       ('jq:job:'), results, set of dependents and set of unmet dependencies,
--       m, m field/value pairs to write on the job, then the n queue names in the same order
-- Returns {queue name, job id, {field, value, ...} (the whole record after the claim)}, or
-- false (nil to the caller) when every queue is empty.
--
-- Atomically: pops ids from the queues in order, dropping ids whose record is gone (expired) or
-- whose status is not 'queued'; writes the fields and status 'started' on the first good one,
-- removes its expiry and that of its results and dependency sets (a started job never
-- expires), enters it in the started registry under the
-- lease, and leaves each queue's wake token matching whether the queue still holds ids.
-- Touches keys of several jobs (every dropped id's record): Cluster needs one hash slot.

expect_keys(3)
local lease_until = next_arg()
local job_template = next_arg()
local data_templates = {next_arg(), next_arg(), next_arg()}
local fields = next_pairs()
local queue_count = #KEYS / 3
local names = {}
for i = 1, queue_count do
    names[i] = next_arg()
end

for i = 1, queue_count do
    local queue_key, started_key, wake_key = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
    while true do
        local job_id = redis.call('LPOP', queue_key)
        if not job_id then
            break
        end
        local record_key = job_template .. job_id
        if redis.call('HGET', record_key, F_STATUS) == QUEUED then
            hset_flat(record_key, fields)
            redis.call('HSET', record_key, F_STATUS, STARTED)
            local data_keys = {record_key}
            for _, template in ipairs(data_templates) do
                data_keys[#data_keys + 1] = template .. job_id
            end
            expire_all(data_keys, '')
            redis.call('ZADD', started_key, lease_until, job_id)
            -- The caller may have taken a token from any of its queues' wake keys in BLPOP;
            -- put back the token of each queue that still holds ids, so a claimer blocked on
            -- them (possibly listening to other queues than this one) wakes up.
            for j = i, queue_count do
                settle_wake(KEYS[3 * j - 2], KEYS[3 * j])
            end
            return {names[i], job_id, redis.call('HGETALL', record_key)}
        end
    end
    -- Empty now: a token left here would only cause a spurious wake-up.
    redis.call('DEL', wake_key)
end
return false
