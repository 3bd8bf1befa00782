-- transition.lua: move a job between places and update its record (Broker.transition).
--
-- KEYS[1] the job's record              KEYS[2] its results list
-- KEYS[3] its dependents set            KEYS[4] its set of unmet dependencies
-- KEYS[5] the source queue or registry (KEYS[1] when there is no source)
-- KEYS[6] the target queue or registry (KEYS[1] when there is no target)
-- KEYS[7] the target queue's wake key (KEYS[1] unless the target is a queue)
-- KEYS[8] the set of known queue names
-- ARGV: job id,
--       source kind, target kind ('' none | 'queue' | 'registry'), target queue name,
--       target score, at front ('1'/'0'),
--       check execution ('1'/'0'), execution id,
--       record ttl ('keep' | 'persist' | 'delete' | expiry in ms),
--       has result ('1'/'0'), result entry, index of the last result entry kept (RESULTS_KEPT - 1),
--       dependents policy ('none' | 'finished' | 'failed'),
--       key templates of a dependent's record, unmet-dependency set, queue, deferred registry and
--       wake key (a dependent's id or origin queue name is appended),
--       m, m field/value pairs to write, d, d field names to delete,
--       r, r field/value pairs written on each released dependent
-- Returns 1, or 0 when refused (record missing, execution mismatch, job not in the source);
-- a refusal writes nothing.
--
-- Atomically: every check comes before the first write (the source removal is the last check:
-- LREM/ZREM that remove nothing write nothing); then target, fields, result, release of
-- dependents, expiry (shared by the record, its results and dependency sets). A queue a job
-- goes to becomes known. Touches keys of several jobs (its dependents and their queues):
-- Cluster needs one hash slot.

expect_keys(8)
local job_id = next_arg()
local source_kind = next_arg()
local target_kind = next_arg()
local target_queue = next_arg()
local score = next_arg()
local at_front = next_arg() == '1'
local check_execution = next_arg() == '1'
local execution_id = next_arg()
local record_ttl = next_arg()
local has_result = next_arg() == '1'
local result = next_arg()
local last_result_index = next_arg()
local policy = next_arg()
local record_template = next_arg()
local dependencies_template = next_arg()
local queue_template = next_arg()
local deferred_template = next_arg()
local wake_template = next_arg()
local fields = next_pairs()
local delete_fields = next_list()
local released_fields = next_pairs()

local record, results, dependents, dependencies = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

if redis.call('EXISTS', record) == 0 then
    return 0
end
if check_execution and redis.call('HGET', record, F_EXECUTION) ~= execution_id then
    return 0
end
if source_kind == 'queue' then
    if redis.call('LREM', KEYS[5], 0, job_id) == 0 then
        return 0
    end
elseif source_kind == 'registry' then
    if redis.call('ZREM', KEYS[5], job_id) == 0 then
        return 0
    end
end

if target_kind == 'queue' then
    push(KEYS[8], target_queue, KEYS[6], KEYS[7], job_id, at_front)
elseif target_kind == 'registry' then
    redis.call('ZADD', KEYS[6], score, job_id)
end

hset_flat(record, fields)
if #delete_fields > 0 then
    redis.call('HDEL', record, unpack(delete_fields))
end

if has_result then
    redis.call('LPUSH', results, result)
    redis.call('LTRIM', results, 0, last_result_index)
end

-- A dependent whose last unmet dependency this job was goes from its origin's deferred registry
-- to its origin queue. Under 'failed' only dependents that allow failure count this job as met.
-- A dependent that does not allow failure stays in this job's dependents under 'failed': it still
-- waits, and a requeued job that finishes releases it later.
local function release_dependents()
    for _, child in ipairs(redis.call('SMEMBERS', dependents)) do
        local child_record = record_template .. child
        local child_dependencies = dependencies_template .. child
        if redis.call('EXISTS', child_record) == 0 then
            -- Expired or deleted while deferred: its set of unmet dependencies is litter.
            redis.call('DEL', child_dependencies)
            redis.call('SREM', dependents, child)
        elseif policy == 'finished' or redis.call('HGET', child_record, F_ALLOW_FAILURE) == '1' then
            redis.call('SREM', dependents, child)
            redis.call('SREM', child_dependencies, job_id)
            if redis.call('SCARD', child_dependencies) == 0
                and redis.call('HGET', child_record, F_STATUS) == DEFERRED then
                local origin = redis.call('HGET', child_record, F_ORIGIN)
                if origin then
                    redis.call('ZREM', deferred_template .. origin, child)
                    local child_front = redis.call('HGET', child_record, F_ENQUEUE_AT_FRONT) == '1'
                    push(KEYS[8], origin, queue_template .. origin, wake_template .. origin, child, child_front)
                    hset_flat(child_record, released_fields)
                    redis.call('HSET', child_record, F_STATUS, QUEUED)
                end
            end
        end
    end
end

if policy ~= 'none' then
    release_dependents()
end

if record_ttl == 'delete' then
    redis.call('DEL', record, results, dependents, dependencies)
elseif record_ttl == 'persist' then
    expire_all({record, results, dependents, dependencies}, '')
elseif record_ttl == 'keep' then
    if has_result then
        share_expiry(record, results)
    end
else
    expire_all({record, results, dependents, dependencies}, record_ttl)
end
return 1
