-- enqueue.lua: store one job record and place it according to its dependencies (Broker.enqueue).
--
-- KEYS[1] the job's record              KEYS[2] the queue
-- KEYS[3] the queue's wake key          KEYS[4] the set of known queue names
-- KEYS[5] the job's results             KEYS[6] the job's set of dependents
-- KEYS[7] the job's set of unmet dependencies, then, each only when the flags say so, in order:
--   the `once` marker ('o'), the queue's scheduled registry ('s'), the queue's deferred and
--   canceled registries and, for each dependency i, its record and its dependents set ('d')
-- ARGV: flags (letters: 'f' at front, 'a' allow failure, 'u' unique, 'o' once, 's' scheduled,
--       'd' dependencies), record expiry in ms ('' = none), then, each only when the flags say
--       so: the marker value ('o'), the scheduled_at score ('s'), n, now (the broker's clock:
--       the deferred score, and what a canceled job's score counts from), the seconds a
--       canceled job is kept (its failure_ttl or the default: > 0 seconds, < 0 forever, 0 not
--       at all) and the n dependency ids (distinct) ('d'); last, to the end of ARGV, the
--       field/value pairs of the record (without its status)
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

expect_keys(7)
local flags = next_arg()
local function flag(letter)
    return string.find(flags, letter, 1, true) ~= nil
end
local at_front, allow_failure, unique, once = flag('f'), flag('a'), flag('u'), flag('o')
local expiry_ms = next_arg()
local record, queue_key, wake_key, known_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local results_key, dependents_key, unmet_key = KEYS[5], KEYS[6], KEYS[7]
local job_id, queue_name = name_of(record, K_JOB), name_of(queue_key, K_QUEUE)

local next_key = 8
local function optional_key()
    next_key = next_key + 1
    return KEYS[next_key - 1]
end
local marker_key, once_value, scheduled_key, scheduled_at
local deferred_key, canceled_key, now, canceled_ttl
local depends_on = {}
if once then
    marker_key = optional_key()
    once_value = next_arg()
end
if flag('s') then
    scheduled_key = optional_key()
    scheduled_at = next_arg()
end
if flag('d') then
    deferred_key, canceled_key = optional_key(), optional_key()
    local n = tonumber(next_arg())
    now = next_arg()
    canceled_ttl = tonumber(next_arg())
    for i = 1, n do
        depends_on[i] = next_arg()
    end
    expect_keys(next_key - 1 + 2 * n)
end
local fields = rest_of_args()
local function dependency_record(i) return KEYS[next_key + 2 * i - 2] end
local function dependency_dependents(i) return KEYS[next_key + 2 * i - 1] end

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
    if status and PENDING[status] then
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
        for _, next_id in ipairs(redis.call('SMEMBERS', K_DEPENDENCIES .. id)) do
            walk[#walk + 1] = next_id
        end
    end
end

-- 2. The marker, and the replaced job's old place and old dependencies.
if once then
    redis.call('SET', marker_key, once_value)
end
local old = redis.call('HMGET', record, F_STATUS, F_ORIGIN)
local old_status, old_origin = old[1], old[2]
local old_place = old_status and PLACE_OF_STATUS[old_status]
if old_place and old_origin then
    local key = old_place .. old_origin
    if old_place == K_QUEUE then
        if redis.call('LREM', key, 0, job_id) > 0 then
            settle_wake(key, K_WAKE .. old_origin)
        end
    else
        redis.call('ZREM', key, job_id)
    end
end
-- The new job waits only on what this request names: the old one leaves the dependents of what
-- it waited for (dependent_ids lists the jobs still waiting).
for _, parent in ipairs(redis.call('SMEMBERS', unmet_key)) do
    redis.call('SREM', K_DEPENDENTS .. parent, job_id)
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

local status = QUEUED
if dependency_failed then
    status = CANCELED
elseif #unmet > 0 then
    status = DEFERRED
elseif scheduled_key then
    status = SCHEDULED
end
hset_flat(record, with_status(fields, status))
local data = {record, results_key, dependents_key, unmet_key}
if status == CANCELED then
    keep_canceled(canceled_key, job_id, data, canceled_ttl, now)
    return {CANCELED}
end

if status == DEFERRED then
    redis.call('ZADD', deferred_key, now, job_id)
    for _, i in ipairs(unmet) do
        redis.call('SADD', unmet_key, depends_on[i])
        redis.call('SADD', dependency_dependents(i), job_id)
        -- Expires with its job, so a later job under that id does not inherit this dependent.
        share_expiry(dependency_record(i), dependency_dependents(i))
    end
elseif status == SCHEDULED then
    redis.call('ZADD', scheduled_key, scheduled_at, job_id)
else
    push(nil, queue_name, queue_key, wake_key, job_id, at_front)  -- made known in step 3
end

-- The record was just written afresh (deleted above), so it has no expiry of its own yet.
expire_fresh(data, expiry_ms)
return {status}
