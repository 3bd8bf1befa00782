-- enqueue.lua: store one job record and place it according to its dependencies (Broker.enqueue).
--
-- KEYS[1] the job's record              KEYS[2] the queue
-- KEYS[3] the queue's wake key          KEYS[4] the set of known queue names
-- KEYS[5] the queue's deferred registry KEYS[6] the queue's scheduled registry
-- KEYS[7] the queue's canceled registry KEYS[8] the job's set of unmet dependencies
-- KEYS[9] the job's results             KEYS[10] the job's set of dependents
-- KEYS[9 + 2i], KEYS[10 + 2i]: the record and the dependents set of dependency i (i = 1..n)
-- ARGV: job id, queue name, record expiry in ms ('' = none), at front ('1'/'0'),
--       scheduled_at score ('' = none), allow failure ('1'/'0'), deferred score,
--       n, the n dependency ids, m, m field/value pairs (the record without its status)
-- Returns {status written}, or {'', missing dependency ids...} when a dependency has no record
-- (then nothing was written).
--
-- Atomically: checks that every dependency exists, marks the queue known, reads each
-- dependency's status, then writes the record with its status and places the id in the
-- canceled, deferred or scheduled registry or in the queue (waking a blocked claimer). The
-- record's expiry (or none) applies to its results and dependency sets too, and a dependency's
-- set of dependents shares that dependency's expiry.
-- Touches keys of several jobs (the dependencies): on Redis Cluster all of them must share one
-- hash slot, which a prefix with a hash tag (e.g. '{jq}:') gives.

expect_keys(10)
local job_id = next_arg()
local queue_name = next_arg()
local expiry_ms = next_arg()
local at_front = next_arg() == '1'
local scheduled_at = next_arg()
local allow_failure = next_arg() == '1'
local deferred_score = next_arg()
local depends_on = next_list()
local fields = next_pairs()

local function dependency_record(i) return KEYS[9 + 2 * i] end
local function dependency_dependents(i) return KEYS[10 + 2 * i] end

local missing = {}
for i, dependency in ipairs(depends_on) do
    if redis.call('EXISTS', dependency_record(i)) == 0 then
        missing[#missing + 1] = dependency
    end
end
if #missing > 0 then
    table.insert(missing, 1, '')
    return missing
end

redis.call('SADD', KEYS[4], queue_name)

local unmet = {}
local dependency_failed = false
for i = 1, #depends_on do
    local status = redis.call('HGET', dependency_record(i), F_STATUS)
    if status == FINISHED then
        -- met
    elseif status == FAILED or status == STOPPED or status == CANCELED then
        if not allow_failure then
            dependency_failed = true
        end
    else
        unmet[#unmet + 1] = i
    end
end

-- The record replaces any earlier one under this id, and so does its set of unmet dependencies.
redis.call('DEL', KEYS[1], KEYS[8])

local status
if dependency_failed then
    status = CANCELED
    redis.call('ZADD', KEYS[7], 'inf', job_id)
elseif #unmet > 0 then
    status = DEFERRED
    redis.call('ZADD', KEYS[5], deferred_score, job_id)
    for _, i in ipairs(unmet) do
        redis.call('SADD', KEYS[8], depends_on[i])
        redis.call('SADD', dependency_dependents(i), job_id)
        -- Expires with its job, so a later job under that id does not inherit this dependent.
        share_expiry(dependency_record(i), dependency_dependents(i))
    end
elseif scheduled_at ~= '' then
    status = SCHEDULED
    redis.call('ZADD', KEYS[6], scheduled_at, job_id)
else
    status = QUEUED
    push(KEYS[4], queue_name, KEYS[2], KEYS[3], job_id, at_front)
end

hset_flat(KEYS[1], fields)
redis.call('HSET', KEYS[1], F_STATUS, status)
expire_all({KEYS[1], KEYS[9], KEYS[10], KEYS[8]}, expiry_ms)
return {status}
