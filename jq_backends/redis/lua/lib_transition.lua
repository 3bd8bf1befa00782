-- lib_transition.lua: the transition step (Broker.transition) that transition.lua,
-- finish_and_claim.lua, delete_job.lua and settle_orphans.lua make: moving a job between places
-- and settling its dependents. A library like lib.lua, whose definitions it uses: scripts.py
-- prepends what a script needs of the library files, lib.lua's first.

-- == Transition (Broker.transition) ===========================================================
--
-- KEYS[1] the job's record   KEYS[2] its results   KEYS[3] its dependents set
-- KEYS[4] its set of unmet dependencies, then, each only when the mode says so, in this order:
--   the source queue or registry, the target queue or registry, the target queue's wake key
--   (target 'q'), the set of known queue names (target 'q' or a dependents policy), the
--   worker's record ('W')
-- ARGV: the mode: four characters, source kind and target kind ('q' queue | 'r' registry |
--       '-' none), dependents policy ('-' none | 'f' finished | 'x' failed | 'v' vanished),
--       record ttl ('k' keep | 'p' persist | 'd' delete | 'e' expire), then flags: 'F' at front,
--       'E' check the execution, 'R' a result, 'K' how many results to keep (with 'R', when
--       not RESULTS_LAST + 1), 'D' fields to delete, 'L' leave its dependencies, 'W' a worker
--       update, 'N' now is given (always with policy 'v'), 'A' released fields without a policy
--       (written on the jobs a freed rate-limit slot admits); then, each only when the mode says
--       so: the target score
--       (target 'r'), the execution id ('E'), the record expiry in ms ('e'), the result entry
--       ('R'), how many results to keep ('K'), the settlement of the dependents (a policy, see
--       next_settlement) or r, r released field/value pairs ('A'), d, d field names to delete
--       ('D'), the worker update ('W'); last the
--       field/value pairs to write: to the end of ARGV when the transition is all the call does
--       (`last`), else m, m pairs

-- How the dependents of a job are settled (see settle_dependents), into `t`: r, r field/value
-- pairs written on each released dependent; under policy 'v' also c, c field/value pairs
-- written on each canceled dependent and the seconds a canceled dependent is kept when its
-- failure_ttl field says nothing; then, `with_now`, now (what a canceled dependent's score
-- counts from, and what a released dependent's scheduled time is compared with).
local function next_settlement(t, with_now)
    t.released_fields = next_pairs()
    if t.policy == 'v' then
        t.canceled_fields = next_pairs()
        t.default_failure_ttl = tonumber(next_arg())
    end
    if with_now then
        t.now = next_arg()
    end
end

-- Read a transition (laid out above) into a table of named parts: source, target, policy, ttl
-- (the mode's letters), job_id, at_front, leave, source_key, target_key, wake_key, known_key,
-- worker_key (nil when the mode has none), next_key (the first KEYS entry after them), score,
-- execution_id, expiry_ms, result, results_last, dependents (the job's dependents set), the
-- settlement (released_fields, canceled_fields, default_failure_ttl, now), delete_fields, worker
-- (the update) and fields; `last` when the fields run to the end of ARGV.
local function next_transition(last)
    local mode = next_arg()
    local t = {
        source = string.sub(mode, 1, 1),
        target = string.sub(mode, 2, 2),
        policy = string.sub(mode, 3, 3),
        ttl = string.sub(mode, 4, 4),
        job_id = name_of(KEYS[1], K_JOB),
    }
    -- The flags as a set (flags.E is true or nil), read in one pass: a closure and a
    -- string.find per flag cost more, on every call of the busiest scripts.
    local flags = {}
    for i = 5, #mode do
        flags[string.sub(mode, i, i)] = true
    end
    t.at_front = flags.F == true
    t.leave = flags.L == true
    local k = 5  -- the next KEYS entry: after the job's four data keys
    if t.source ~= '-' then
        t.source_key, k = KEYS[k], k + 1
    end
    if t.target ~= '-' then
        t.target_key, k = KEYS[k], k + 1
    end
    if t.target == 'q' then
        t.wake_key, k = KEYS[k], k + 1
    end
    if t.target == 'q' or t.policy ~= '-' then
        t.known_key, k = KEYS[k], k + 1
    end
    if flags.W then
        t.worker_key, k = KEYS[k], k + 1
    end
    t.next_key = k
    expect_keys(k - 1)

    if t.target == 'r' then
        t.score = next_arg()
    end
    if flags.E then
        t.execution_id = next_arg()
    end
    if t.ttl == 'e' then
        t.expiry_ms = next_arg()
    end
    if flags.R then
        t.result = next_arg()
        t.results_last = RESULTS_LAST
        if flags.K then
            t.results_last = tonumber(next_arg()) - 1
        end
    end
    t.released_fields, t.canceled_fields, t.delete_fields = {}, {}, {}
    t.dependents = KEYS[3]
    if t.policy ~= '-' then
        next_settlement(t, flags.N)
    elseif flags.A then
        t.released_fields = next_pairs()  -- for the jobs a freed rate-limit slot admits
    end
    if flags.D then
        t.delete_fields = next_list()
    end
    if t.worker_key then
        t.worker = next_worker_update(t.worker_key)
    end
    if last then
        t.fields = rest_of_args()
    else
        t.fields = next_pairs()
    end
    return t
end

-- A deferred dependent whose last unmet dependency this job was goes from its origin's deferred
-- registry to its origin queue, with the released fields and then status 'queued'; or, when its
-- scheduled time is after now, to its origin's scheduled registry with status 'scheduled'. When
-- one of those keys holds the wrong type the dependent is left deferred, untouched (this script
-- has written already: failing now would keep half of it), and the server's log says why.
local function release(t, child, child_record)
    local values = redis.call('HMGET', child_record, F_ORIGIN, F_STATUS, F_ENQUEUE_AT_FRONT, F_SCHEDULED_AT,
        F_RATE_LIMIT_KEY, F_RATE_LIMIT_CONCURRENCY)
    local origin = values[1]
    if not origin or values[2] ~= S_DEFERRED then
        return
    end
    for _, place in ipairs({{K_DEFERRED .. origin, 'zset'}, {K_SCHEDULED .. origin, 'zset'}, {K_QUEUE .. origin, 'list'}}) do
        local fits, found = holds(place[1], place[2])
        if not fits then
            redis.log(redis.LOG_WARNING, 'jq left job ' .. child .. ' deferred: its key ' .. place[1] .. ' holds a ' ..
                found .. ', not a ' .. place[2])
            return
        end
    end
    redis.call('ZREM', K_DEFERRED .. origin, child)
    local due = values[4] and tonumber(values[4])
    if due and due > tonumber(t.now or server_now()) then
        redis.call('ZADD', K_SCHEDULED .. origin, string.format('%.17g', due), child)
        hset_flat(child_record, with_status(t.released_fields, S_SCHEDULED))
        return
    end
    if may_queue(limit_from(values[5], values[6]), child, origin) then
        push(t.known_key, origin, K_QUEUE .. origin, K_WAKE .. origin, child, values[3] == '1')
        hset_flat(child_record, with_status(t.released_fields, S_QUEUED))
    else
        hset_flat(child_record, with_status(t.released_fields, S_RATE_LIMITED))  -- waits for a slot
    end
end

-- A deferred dependent canceled because a job it waits for will never run goes from its
-- origin's deferred registry to its canceled state: the canceled fields, then status 'canceled'.
-- Returns what settling its own dependents needs (they are settled as vanished in turn), or nil
-- when it is not deferred.
local function cancel(t, child, child_record)
    local origin = redis.call('HGET', child_record, F_ORIGIN)
    if not origin or redis.call('HGET', child_record, F_STATUS) ~= S_DEFERRED then
        return nil
    end
    -- Left deferred, as release() leaves a dependent, when a key it would move through is of the
    -- wrong type.
    if not holds(K_DEFERRED .. origin, 'zset') or not holds(K_CANCELED .. origin, 'zset') then
        redis.log(redis.LOG_WARNING, 'jq left job ' .. child .. ' deferred: a registry of queue ' .. origin ..
            ' holds the wrong type')
        return nil
    end
    redis.call('ZREM', K_DEFERRED .. origin, child)
    hset_flat(child_record, with_status(t.canceled_fields, S_CANCELED))
    local ttl = whole_seconds(redis.call('HGET', child_record, F_FAILURE_TTL), t.default_failure_ttl)
    return {id = child, policy = 'v', dependents = K_DEPENDENTS .. child, origin = origin, ttl = ttl}
end

-- The dependents of a job, by policy (jq.broker.DependentsPolicy). Under 'x' (failed), a deferred
-- dependent that does not allow failure keeps waiting for the job (listed among its dependents,
-- the job in its set of unmet dependencies): the job, requeued and finished, releases it. Every
-- other dependent leaves the dependents set of the job it waited for, and that job leaves its set
-- of unmet dependencies. Under 'f' (finished), 'x', and 'v' (vanished) for a dependent that
-- allows failure, the dependent is released once nothing else is unmet. Under 'v', any other
-- deferred dependent is canceled, and its own dependents are settled as vanished, and so on:
-- iteratively (a chain may be longer than Lua lets calls nest), with a stack of jobs whose
-- dependents remain to be settled. A canceled job is filed (registry score, expiry, or deletion
-- for a TTL of zero) only after its own dependents were settled, since deleting it deletes its
-- dependents set. `visited` guards against a cycle of dependents.
local function settle_dependents(t)
    local stack = {{id = t.job_id, policy = t.policy, dependents = t.dependents}}
    local visited = {[t.job_id] = true}
    while #stack > 0 do
        local parent = table.remove(stack)
        -- (A canceled dependent's own set of dependents of the wrong type is no set: it has none.)
        local children = holds(parent.dependents, 'set') and redis.call('SMEMBERS', parent.dependents) or {}
        for _, child in ipairs(children) do
            local child_record = K_JOB .. child
            local child_dependencies = K_DEPENDENCIES .. child
            if type_of(child_record) ~= 'hash' or not holds(child_dependencies, 'set') then
                -- Expired or deleted while deferred: its set of unmet dependencies is litter. (A
                -- key of the wrong type is no job either: it is left alone, and forgotten here.)
                redis.call('SREM', parent.dependents, child)
                redis.call('DEL', child_dependencies)
            else
                local values = redis.call('HMGET', child_record, F_STATUS, F_ALLOW_FAILURE, F_ORIGIN)
                local deferred = values[1] == S_DEFERRED and values[3]
                local tolerant = values[2] == '1'
                if parent.policy ~= 'x' or tolerant or not deferred then
                    redis.call('SREM', parent.dependents, child)
                    redis.call('SREM', child_dependencies, parent.id)
                    if parent.policy ~= 'v' or tolerant then
                        if redis.call('SCARD', child_dependencies) == 0 then
                            release(t, child, child_record)
                        end
                    elseif not visited[child] then
                        local canceled = cancel(t, child, child_record)
                        if canceled then
                            visited[child] = true
                            stack[#stack + 1] = canceled
                        end
                    end
                end
            end
        end
        if parent.origin then
            keep_canceled(K_CANCELED .. parent.origin, parent.id, data_keys(parent.id), parent.ttl, t.now)
        end
    end
end

-- Every check comes before the first write (the source removal is the last check: LREM/ZREM
-- that remove nothing write nothing); then target, fields, result, its own dependencies left
-- (flag 'L'), dependents (released, left waiting, or canceled with their own dependents in turn,
-- down the chain), expiry (shared by the record, its results and dependency sets), and the worker
-- update. A queue a job goes to becomes known.
-- Returns 1, or 0 when refused (record missing, execution mismatch, job not in the source).
local function transition(t)
    local record, results, dependents, dependencies = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
    local job_id = t.job_id
    -- The keys this step writes that no read below checks first (a record or source of the wrong
    -- type fails its read, or its removal, before anything is written). The job's results and
    -- dependency sets seldom exist: one EXISTS spares their TYPE then.
    expect_types({t.target_key or false, t.target == 'q' and 'list' or 'zset', t.wake_key or false, 'list',
        t.known_key or false, 'set'})
    local settles = t.policy ~= '-'
    local own = {t.result and results or false, 'list', (settles or t.leave) and dependencies or false, 'set',
        settles and dependents or false, 'set'}
    local present = {}
    for i = 1, #own, 2 do
        if own[i] then
            present[#present + 1] = own[i]
        end
    end
    if #present > 0 and redis.call('EXISTS', unpack(present)) > 0 then
        expect_types(own)
    end
    -- A record without the execution id (or no record: HMGET answers false) refuses: with an
    -- execution to check, that one HMGET also says the record exists. It reads the job's rate
    -- limit too (see lib_rate_limit.lua).
    local old_status, limit, keep_until
    if t.execution_id then
        local v = redis.call('HMGET', record, F_EXECUTION, F_STATUS, F_RATE_LIMIT_KEY, F_RATE_LIMIT_CONCURRENCY)
        if v[1] ~= t.execution_id then
            return 0
        end
        old_status, limit = v[2], limit_from(v[3], v[4])
    elseif redis.call('EXISTS', record) == 0 then
        return 0
    else
        local v = redis.call('HMGET', record, F_STATUS, F_RATE_LIMIT_KEY, F_RATE_LIMIT_CONCURRENCY)
        old_status, limit = v[1], limit_from(v[2], v[3])
        if limit and old_status == S_STARTED and t.source == 'r' then
            -- Ended by another call than its execution's outcome: the slot stays until its lease.
            keep_until = redis.call('ZSCORE', t.source_key, job_id) or nil
        end
    end
    if t.source == 'q' then
        if redis.call('LREM', t.source_key, 0, job_id) == 0 then
            return 0
        end
    elseif t.source == 'r' then
        if redis.call('ZREM', t.source_key, job_id) == 0 then
            return 0
        end
    end

    local waits = false
    if t.target == 'q' then
        local queue_name = name_of(t.target_key, K_QUEUE)
        if may_queue(limit, job_id, queue_name) then
            push(t.known_key, queue_name, t.target_key, t.wake_key, job_id, t.at_front)
        else
            waits = true
        end
    elseif t.target == 'r' then
        redis.call('ZADD', t.target_key, t.score, job_id)
    end

    hset_flat(record, t.fields)
    if waits then
        redis.call('HSET', record, F_STATUS, S_RATE_LIMITED)  -- not queued, whatever the fields say
    end
    if #t.delete_fields > 0 then
        redis.call('HDEL', record, unpack(t.delete_fields))
    end

    if t.result then
        -- Trimmed only when over the number kept (LTRIM of a shorter list would change nothing).
        if redis.call('LPUSH', results, t.result) > t.results_last + 1 then
            redis.call('LTRIM', results, 0, t.results_last)
        end
    end

    if t.leave then
        for _, parent in ipairs(redis.call('SMEMBERS', dependencies)) do
            redis.call('SREM', K_DEPENDENTS .. parent, job_id)
        end
        redis.call('DEL', dependencies)
    end

    if t.policy ~= '-' then
        settle_dependents(t)
    end

    -- Dependents that still wait (policy 'x' or '-') share the record's lifetime.
    local data = {record, results, dependencies, dependents}
    if t.ttl == 'd' then
        redis.call('DEL', unpack(data))
    elseif t.ttl == 'p' then
        expire_all(data, '')
    elseif t.ttl == 'k' then
        if t.result then
            share_expiry(record, results)
        end
    else
        expire_all(data, t.expiry_ms)
    end
    if limit then
        local new_status = nil
        if t.ttl ~= 'd' then
            new_status = redis.call('HGET', record, F_STATUS)
        end
        after_move(limit, job_id, old_status, new_status, t.released_fields, keep_until)
    end
    if t.worker then
        apply_worker_update(t.worker)
    end
    return 1
end
