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
--       key templates of a dependent's record, results, dependents set and unmet-dependency set,
--       and of a queue, its wake key, deferred and canceled registries (a dependent's id or
--       origin queue name is appended),
--       seconds a canceled dependent is kept when its failure_ttl field says nothing, now (what
--       a canceled dependent's score counts from),
--       m, m field/value pairs to write, d, d field names to delete,
--       r, r field/value pairs written on each released dependent,
--       c, c field/value pairs written on each canceled dependent
-- Returns 1, or 0 when refused (record missing, execution mismatch, job not in the source);
-- a refusal writes nothing.
--
-- Atomically: every check comes before the first write (the source removal is the last check:
-- LREM/ZREM that remove nothing write nothing); then target, fields, result, dependents (released,
-- or canceled with their own dependents in turn, down the chain), expiry (shared by the record,
-- its results and dependency sets). A queue a job goes to becomes known. Touches keys of several
-- jobs (its dependents, theirs, and their queues): Cluster needs one hash slot.

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
local results_template = next_arg()
local dependents_template = next_arg()
local dependencies_template = next_arg()
local queue_template = next_arg()
local wake_template = next_arg()
local deferred_template = next_arg()
local canceled_template = next_arg()
local default_failure_ttl = tonumber(next_arg())
local now = next_arg()
local fields = next_pairs()
local delete_fields = next_list()
local released_fields = next_pairs()
local canceled_fields = next_pairs()

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

-- A deferred dependent whose last unmet dependency this job was goes from its origin's deferred
-- registry to its origin queue, with the released fields and then status 'queued'.
local function release(child, child_record)
    local origin = redis.call('HGET', child_record, F_ORIGIN)
    if origin and redis.call('HGET', child_record, F_STATUS) == DEFERRED then
        redis.call('ZREM', deferred_template .. origin, child)
        local child_front = redis.call('HGET', child_record, F_ENQUEUE_AT_FRONT) == '1'
        push(KEYS[8], origin, queue_template .. origin, wake_template .. origin, child, child_front)
        hset_flat(child_record, released_fields)
        redis.call('HSET', child_record, F_STATUS, QUEUED)
    end
end

local function data_keys(id)
    return {record_template .. id, results_template .. id, dependents_template .. id,
        dependencies_template .. id}
end

-- A deferred dependent that does not allow failure goes from its origin's deferred registry to
-- its canceled state: the canceled fields, then status 'canceled'. Returns what settling its own
-- dependents needs (it counts as failed for them), or nil when it is not deferred.
local function cancel(child, child_record)
    local origin = redis.call('HGET', child_record, F_ORIGIN)
    if not origin or redis.call('HGET', child_record, F_STATUS) ~= DEFERRED then
        return nil
    end
    redis.call('ZREM', deferred_template .. origin, child)
    hset_flat(child_record, canceled_fields)
    redis.call('HSET', child_record, F_STATUS, CANCELED)
    local ttl = whole_seconds(redis.call('HGET', child_record, F_FAILURE_TTL), default_failure_ttl)
    return {id = child, policy = 'failed', dependents = dependents_template .. child, origin = origin,
        ttl = ttl}
end

-- Every dependent leaves the dependents set of the job it waited for, and that job leaves its set
-- of unmet dependencies. Under 'finished', and under 'failed' for a dependent that allows
-- failure, the dependent is released once nothing else is unmet. Under 'failed', any other
-- deferred dependent is canceled, and its own dependents are settled as if it had failed, and so
-- on: iteratively (a chain may be longer than Lua lets calls nest), with a stack of jobs whose
-- dependents remain to be settled. A canceled job is filed (registry score,
-- expiry, or deletion for a TTL of zero) only after its own dependents were settled, since
-- deleting it deletes its dependents set. `visited` guards against a cycle of dependents.
local function settle_dependents()
    local stack = {{id = job_id, policy = policy, dependents = dependents}}
    local visited = {[job_id] = true}
    while #stack > 0 do
        local parent = table.remove(stack)
        for _, child in ipairs(redis.call('SMEMBERS', parent.dependents)) do
            local child_record = record_template .. child
            local child_dependencies = dependencies_template .. child
            if redis.call('EXISTS', child_record) == 0 then
                -- Expired or deleted while deferred: its set of unmet dependencies is litter.
                redis.call('DEL', child_dependencies)
            else
                redis.call('SREM', child_dependencies, parent.id)
                local tolerant = parent.policy == 'finished'
                    or redis.call('HGET', child_record, F_ALLOW_FAILURE) == '1'
                if tolerant then
                    if redis.call('SCARD', child_dependencies) == 0 then
                        release(child, child_record)
                    end
                elseif not visited[child] then
                    local canceled = cancel(child, child_record)
                    if canceled then
                        visited[child] = true
                        stack[#stack + 1] = canceled
                    end
                end
            end
        end
        redis.call('DEL', parent.dependents)
        if parent.origin then
            local canceled_key = canceled_template .. parent.origin
            keep_canceled(canceled_key, parent.id, data_keys(parent.id), parent.ttl, now)
        end
    end
end

if policy ~= 'none' then
    settle_dependents()
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
