-- enqueue.lua: store one job record and place it according to its dependencies (Broker.enqueue).
--
-- KEYS[1] the job's record              KEYS[2] the queue
-- KEYS[3] the queue's wake key          KEYS[4] the set of known queue names
-- KEYS[5] the queue's deferred registry KEYS[6] the queue's scheduled registry
-- KEYS[7] the queue's canceled registry KEYS[8] the job's set of unmet dependencies
-- KEYS[9] the job's results             KEYS[10] the job's set of dependents
-- KEYS[11] the `once` marker (KEYS[1] when the request has none)
-- KEYS[10 + 2i], KEYS[11 + 2i]: the record and the dependents set of dependency i (i = 1..n)
-- ARGV: job id, queue name, record expiry in ms ('' = none), at front ('1'/'0'),
--       scheduled_at score ('' = none), allow failure ('1'/'0'), now (the broker's clock: the
--       deferred score, and what a canceled job's score counts from), seconds a canceled job is
--       kept (its failure_ttl or the default: > 0 seconds, < 0 forever, 0 not at all),
--       unique ('1'/'0'), once ('1'/'0'), the marker value,
--       key templates of a job's set of unmet dependencies, of its dependents set, of a queue
--       and of a queue's wake key (an id or queue name is appended),
--       s, s triples (status, 'queue' | 'registry', key template of the place that status names),
--       p, the p statuses `unique` counts as pending,
--       n, the n dependency ids (distinct), m, m field/value pairs (the record without its status)
-- Returns {status written}, or {'', reason, missing dependency ids...} when refused (then nothing
-- was written); reason is 'missing', 'duplicate', 'already' or 'cycle'.
--
-- Atomically, in the contract's order: the refusals (every check before the first write); the
-- marker; the replaced job taken out of the place its old status names in its old origin and out
-- of its old dependencies' dependents (its own dependents stay: they wait for the new job); the
-- queue made known; then the record with its status, placed in the canceled, deferred or
-- scheduled registry or in the queue (waking a blocked claimer). The record's expiry (or none)
-- applies to its results and dependency sets too, and a dependency's set of dependents shares
-- that dependency's expiry; a canceled job is kept as its TTL says instead.
-- Touches keys of several jobs (the dependencies, and every job the cycle check walks through):
-- on Redis Cluster all of them must share one hash slot, which a prefix with a hash tag (e.g.
-- '{jq}:') gives.

expect_keys(11)
local job_id = next_arg()
local queue_name = next_arg()
local expiry_ms = next_arg()
local at_front = next_arg() == '1'
local scheduled_at = next_arg()
local allow_failure = next_arg() == '1'
local now = next_arg()
local canceled_ttl = tonumber(next_arg())
local unique = next_arg() == '1'
local once = next_arg() == '1'
local once_value = next_arg()
local dependencies_template = next_arg()
local dependents_template = next_arg()
local queue_template = next_arg()
local wake_template = next_arg()
local place_count = tonumber(next_arg())
local places = {}
for _ = 1, place_count do
    local status = next_arg()
    places[status] = {kind = next_arg(), template = next_arg()}
end
local pending = {}
for _, status in ipairs(next_list()) do
    pending[status] = true
end
local depends_on = next_list()
local fields = next_pairs()

local record, queue_key, wake_key, known_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local unmet_key, results_key, dependents_key, marker_key = KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local function dependency_record(i) return KEYS[10 + 2 * i] end
local function dependency_dependents(i) return KEYS[11 + 2 * i] end

-- 1. Refusals, in the contract's order; none of them writes anything.
local refused = {}
for i, dependency in ipairs(depends_on) do
    if redis.call('EXISTS', dependency_record(i)) == 0 then
        refused[#refused + 1] = dependency
    end
end
if #refused > 0 then
    table.insert(refused, 1, 'missing')
    table.insert(refused, 1, '')
    return refused
end
if unique then
    local status = redis.call('HGET', record, F_STATUS)
    if status and pending[status] then
        return {'', 'duplicate'}
    end
end
if once then
    -- A marker that holds no number counts as unset (and is overwritten below).
    local reached = tonumber(redis.call('GET', marker_key) or '')
    if reached and reached >= tonumber(once_value) then
        return {'', 'already'}
    end
end
-- A cycle: some job this one would wait for waits, through sets of unmet dependencies, for it.
-- `seen` keeps the walk finite whatever cycles already exist among other jobs.
local walk, seen = {}, {}
for i, dependency in ipairs(depends_on) do
    walk[i] = dependency
end
while #walk > 0 do
    local id = table.remove(walk)
    if id == job_id then
        return {'', 'cycle'}
    end
    if not seen[id] then
        seen[id] = true
        for _, next_id in ipairs(redis.call('SMEMBERS', dependencies_template .. id)) do
            walk[#walk + 1] = next_id
        end
    end
end

-- 2. The marker, and the replaced job's old place and old dependencies.
if once then
    redis.call('SET', marker_key, once_value)
end
local old_status = redis.call('HGET', record, F_STATUS)
local old_origin = redis.call('HGET', record, F_ORIGIN)
local old_place = old_status and places[old_status]
if old_place and old_origin then
    local key = old_place.template .. old_origin
    if old_place.kind == 'queue' then
        if redis.call('LREM', key, 0, job_id) > 0 then
            settle_wake(key, wake_template .. old_origin)
        end
    else
        redis.call('ZREM', key, job_id)
    end
end
-- The new job waits only on what this request names: the old one leaves the dependents of what
-- it waited for (dependent_ids lists the jobs still waiting).
for _, parent in ipairs(redis.call('SMEMBERS', unmet_key)) do
    redis.call('SREM', dependents_template .. parent, job_id)
end
redis.call('DEL', record, unmet_key)

-- 3. The queue becomes known.
redis.call('SADD', known_key, queue_name)

-- 4.-7. Placement by the dependencies' statuses.
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

hset_flat(record, fields)
if dependency_failed then
    redis.call('HSET', record, F_STATUS, CANCELED)
    keep_canceled(KEYS[7], job_id, {record, results_key, dependents_key, unmet_key}, canceled_ttl, now)
    return {CANCELED}
end

local status
if #unmet > 0 then
    status = DEFERRED
    redis.call('ZADD', KEYS[5], now, job_id)
    for _, i in ipairs(unmet) do
        redis.call('SADD', unmet_key, depends_on[i])
        redis.call('SADD', dependency_dependents(i), job_id)
        -- Expires with its job, so a later job under that id does not inherit this dependent.
        share_expiry(dependency_record(i), dependency_dependents(i))
    end
elseif scheduled_at ~= '' then
    status = SCHEDULED
    redis.call('ZADD', KEYS[6], scheduled_at, job_id)
else
    status = QUEUED
    push(known_key, queue_name, queue_key, wake_key, job_id, at_front)
end

redis.call('HSET', record, F_STATUS, status)
expire_all({record, results_key, dependents_key, unmet_key}, expiry_ms)
return {status}
