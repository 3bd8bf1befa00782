-- lib_transition.lua: the transition step (Broker.transition) that transition.lua,
-- finish_and_claim.lua, delete_job.lua and settle_orphans.lua make: moving a job between places
-- and settling its dependents. A library like lib.lua, whose definitions it uses: scripts.py
-- prepends what a script needs of the library files, lib.lua's first.

-- == Transition (Broker.transition) ===========================================================
--
-- KEYS[1] the job's record   KEYS[2] its results   KEYS[3] its dependents set
-- KEYS[4] its set of unmet dependencies, then, each only when the mode says so, in this order:
--   the source queue or registry, the target queue or registry, the target queue's wake key
--   (target PLACE_QUEUE), the set of known queue names (target PLACE_QUEUE or a settlement), the
--   worker's record (FLAG_WORKER), the tally's three records (FLAG_TALLY, see lib_history.lua)
-- ARGV: the mode (its letters are jq_backends/redis/wire.py's, as constants): four letters, the
--   move's source and target (PLACE_QUEUE | PLACE_REGISTRY | PLACE_NONE), the settlement's
--   policy (POLICY_FINISHED | POLICY_FAILED | POLICY_VANISHED; POLICY_NONE: no settlement), the
--   record's ttl (TTL_KEEP | TTL_PERSIST | TTL_DELETE | TTL_EXPIRE), then any flags. Then the
--   parts of jq.broker.Transition in its order, each argument only when the mode calls for it:
--   the move: the target's score (target PLACE_REGISTRY), the front of a queue (FLAG_AT_FRONT,
--     no argument);
--   the execution id to check (FLAG_EXECUTION);
--   the result: its entry (FLAG_RESULT), how many entries to keep (FLAG_RESULTS_KEPT, when not
--     RESULTS_LAST + 1);
--   the settlement (a policy: see next_settlement; its now with FLAG_NOW, always under
--     POLICY_VANISHED);
--   the released fields: r, r field/value pairs (FLAG_RELEASED);
--   its own dependencies left (FLAG_LEAVE_DEPENDENCIES, no argument);
--   the worker update (FLAG_WORKER);
--   the tally (FLAG_TALLY, see lib_history.lua's next_tally);
--   the record edit, last: the expiry in ms (TTL_EXPIRE), d, d field names to delete
--     (FLAG_DELETE_FIELDS), then the field/value pairs to write: to the end of ARGV when the
--     transition is all the call does (`last`), else m, m pairs.

-- A settlement under `policy` (jq.broker.Settlement, see settle_dependents), as a table of
-- policy, cancellation and now: under POLICY_VANISHED its cancellation, c, c field/value pairs
-- written on each canceled dependent and the seconds a canceled dependent is kept when its
-- failure_ttl field says nothing (fields, default_failure_ttl); then, `with_now`, now (what a
-- canceled dependent's score counts from, and what a released dependent's scheduled time is
-- compared with; nil: the server's clock).
local function next_settlement(policy, with_now)
    local settlement = {policy = policy}
    if policy == POLICY_VANISHED then
        settlement.cancellation = {fields = next_pairs(), default_failure_ttl = tonumber(next_arg())}
    end
    if with_now then
        settlement.now = next_arg()
    end
    return settlement
end

-- Read a transition (laid out above) into a table whose parts mirror jq.broker.Transition's:
--   job_id;
--   move: source, target (the mode's letters), source_key, target_key, wake_key (nil when the
--     mode has none), score, at_front;
--   execution_id (nil: none to check);
--   result: entry, last (the last index kept), or nil;
--   settlement: policy, cancellation (fields, default_failure_ttl; POLICY_VANISHED only), now,
--     or nil;
--   released_fields (flat pairs, maybe none);
--   leave_dependencies;
--   worker (the update) or nil;
--   tally (see lib_history.lua's next_tally) or nil;
--   edit: fields (flat pairs), delete_fields (nil: none), ttl (the mode's letter), expiry_ms;
-- and the keys: record_key, results_key, dependents_key, dependencies_key, known_key (nil when
-- the mode has none), next_key (the first KEYS entry after the transition's). Its KEYS start
-- after the first `base` (nil: 0). The fields run to the end of ARGV when `last`. The parts are read into locals first and each table is made
-- by one constructor: a table that grows field by field is rehashed on the way, on every call.
local function next_transition(last, base)
    base = base or 0
    local mode = next_arg()
    local source, target = string.sub(mode, 1, 1), string.sub(mode, 2, 2)
    local policy, ttl = string.sub(mode, 3, 3), string.sub(mode, 4, 4)
    -- The flags as a set (flags[FLAG_EXECUTION] is true or nil), read in one pass: a closure
    -- and a string.find per flag cost more, on every call of the busiest scripts.
    local flags = {}
    for i = 5, #mode do
        flags[string.sub(mode, i, i)] = true
    end
    local k = base + 5  -- the next KEYS entry: after the job's four data keys
    local source_key, target_key, wake_key, known_key, worker_key
    if source ~= PLACE_NONE then
        source_key, k = KEYS[k], k + 1
    end
    if target ~= PLACE_NONE then
        target_key, k = KEYS[k], k + 1
    end
    if target == PLACE_QUEUE then
        wake_key, k = KEYS[k], k + 1
    end
    if target == PLACE_QUEUE or policy ~= POLICY_NONE then
        known_key, k = KEYS[k], k + 1
    end
    if flags[FLAG_WORKER] then
        worker_key, k = KEYS[k], k + 1
    end
    local tally_key
    if flags[FLAG_TALLY] then
        tally_key, k = k, k + 3
    end
    expect_keys(k - 1)

    local score, execution_id, result, settlement, worker, tally, expiry_ms, delete_fields
    if target == PLACE_REGISTRY then
        score = next_arg()
    end
    if flags[FLAG_EXECUTION] then
        execution_id = next_arg()
    end
    if flags[FLAG_RESULT] then
        local entry = next_arg()
        local kept = flags[FLAG_RESULTS_KEPT] and tonumber(next_arg())
        result = {entry = entry, last = kept and kept - 1 or RESULTS_LAST}
    end
    if policy ~= POLICY_NONE then
        settlement = next_settlement(policy, flags[FLAG_NOW])
    end
    -- For the dependents released, and the jobs a freed rate-limit slot admits.
    local released_fields = flags[FLAG_RELEASED] and next_pairs() or {}
    if worker_key then
        worker = next_worker_update(worker_key)
    end
    if tally_key then
        tally = next_tally(tally_key)
    end
    if ttl == TTL_EXPIRE then
        expiry_ms = next_arg()
    end
    if flags[FLAG_DELETE_FIELDS] then
        delete_fields = next_list()
    end
    local fields
    if last then
        fields = rest_of_args()
    else
        fields = next_pairs()
    end
    return {
        job_id = name_of(KEYS[base + 1], K_JOB),
        move = {source = source, target = target, source_key = source_key, target_key = target_key,
            wake_key = wake_key, score = score, at_front = flags[FLAG_AT_FRONT] == true},
        execution_id = execution_id,
        result = result,
        settlement = settlement,
        released_fields = released_fields,
        leave_dependencies = flags[FLAG_LEAVE_DEPENDENCIES] == true,
        worker = worker,
        tally = tally,
        edit = {fields = fields, delete_fields = delete_fields, ttl = ttl, expiry_ms = expiry_ms},
        record_key = KEYS[base + 1],
        results_key = KEYS[base + 2],
        dependents_key = KEYS[base + 3],
        dependencies_key = KEYS[base + 4],
        known_key = known_key,
        next_key = k,
    }
end

-- A deferred dependent whose last unmet dependency this job was goes from its origin's deferred
-- registry to its origin queue, with the released fields and then status 'queued'; or, when its
-- scheduled time is after the settlement's now, to its origin's scheduled registry with status
-- 'scheduled'. When one of those keys holds the wrong type the dependent is left deferred,
-- untouched (this script has written already: failing now would keep half of it), and the
-- server's log says why.
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
    if due and due > tonumber(t.settlement.now or server_now()) then
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
-- origin's deferred registry to its canceled state: the cancellation's fields, then status
-- 'canceled'. Returns what settling its own dependents needs (they are settled as vanished in
-- turn), or nil when it is not deferred.
local function cancel(cancellation, child, child_record)
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
    hset_flat(child_record, with_status(cancellation.fields, S_CANCELED))
    local ttl = whole_seconds(redis.call('HGET', child_record, F_FAILURE_TTL),
        cancellation.default_failure_ttl)
    return {id = child, policy = POLICY_VANISHED, dependents = K_DEPENDENTS .. child, origin = origin,
        ttl = ttl}
end

-- The dependents of job t.job_id (its set: t.dependents_key), by t.settlement's policy
-- (jq.broker.DependentsPolicy), those released getting t.released_fields. Under POLICY_FAILED, a
-- deferred dependent that does not allow failure keeps waiting for the job (listed among its
-- dependents, the job in its set of unmet dependencies): the job, requeued and finished, releases
-- it. Every other dependent leaves the dependents set of the job it waited for, and that job
-- leaves its set of unmet dependencies. Under POLICY_FINISHED, POLICY_FAILED, and
-- POLICY_VANISHED for a dependent that allows failure, the dependent is released once nothing
-- else is unmet. Under POLICY_VANISHED, any other deferred dependent is canceled, and its own
-- dependents are settled as vanished, and so on: iteratively (a chain may be longer than Lua lets
-- calls nest), with a stack of jobs whose dependents remain to be settled. A canceled job is filed
-- (registry score, expiry, or deletion for a TTL of zero) only after its own dependents were
-- settled, since deleting it deletes its dependents set. `visited` guards against a cycle of
-- dependents.
local function settle_dependents(t)
    local settlement = t.settlement
    local stack = {{id = t.job_id, policy = settlement.policy, dependents = t.dependents_key}}
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
                if parent.policy ~= POLICY_FAILED or tolerant or not deferred then
                    redis.call('SREM', parent.dependents, child)
                    redis.call('SREM', child_dependencies, parent.id)
                    if parent.policy ~= POLICY_VANISHED or tolerant then
                        if redis.call('SCARD', child_dependencies) == 0 then
                            release(t, child, child_record)
                        end
                    elseif not visited[child] then
                        local canceled = cancel(settlement.cancellation, child, child_record)
                        if canceled then
                            visited[child] = true
                            stack[#stack + 1] = canceled
                        end
                    end
                end
            end
        end
        if parent.origin then
            keep_canceled(K_CANCELED .. parent.origin, parent.id, data_keys(parent.id), parent.ttl,
                settlement.now)
        end
    end
end

-- The type checks of a transition (see transition): raises an error naming a key of the wrong
-- type among those it writes, before anything is written.
local function check_transition(t)
    local move = t.move
    -- The keys this step writes that no read below checks first (a record or source of the wrong
    -- type fails its read, or its removal, before anything is written). The job's results and
    -- dependency sets seldom exist: one EXISTS spares their TYPE then.
    expect_types({move.target_key or false, move.target == PLACE_QUEUE and 'list' or 'zset', move.wake_key or false,
        'list', t.known_key or false, 'set'})
    local settles = t.settlement ~= nil
    local own = {t.result and t.results_key or false, 'list',
        (settles or t.leave_dependencies) and t.dependencies_key or false, 'set', settles and t.dependents_key or false,
        'set'}
    local present = {}
    for i = 1, #own, 2 do
        if own[i] then
            present[#present + 1] = own[i]
        end
    end
    if #present > 0 and redis.call('EXISTS', unpack(present)) > 0 then
        expect_types(own)
    elseif settles then
        -- Neither its set of unmet dependencies nor its dependents set exists (both were asked
        -- about): the usual finish has no dependents to settle and no such set to expire, which
        -- spares four calls. Nothing a call writes before it gets there makes either set (no step
        -- adds to a job's own sets), so this stays true for transition_many's later parts too.
        t.no_dependency_sets = true
    end
end

-- Every check comes before the first write (the source removal is the last check: LREM/ZREM
-- that remove nothing write nothing); then the move's target, the record edit's fields, the
-- result, its own dependencies left, the settlement (dependents released, left waiting, or
-- canceled with their own dependents in turn, down the chain), the record edit's expiry (shared
-- by the record, its results and dependency sets), the worker update, and the tally. A queue a
-- job goes to becomes known.
-- Returns 1, or 0 when refused (record missing, execution mismatch, job not in the source).
local function transition(t)
    local record, results, dependents, dependencies = t.record_key, t.results_key, t.dependents_key,
        t.dependencies_key
    local job_id, move, edit = t.job_id, t.move, t.edit
    if not t.checked then  -- (transition_many.lua checks every part before the first write)
        check_transition(t)
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
        if limit and old_status == S_STARTED and move.source == PLACE_REGISTRY then
            -- Ended by another call than its execution's outcome: the slot stays until its lease.
            keep_until = redis.call('ZSCORE', move.source_key, job_id) or nil
        end
    end
    if move.source == PLACE_QUEUE then
        if redis.call('LREM', move.source_key, 0, job_id) == 0 then
            -- A job reserved from the queue is still in it for a move out of it (see
            -- jq.broker.Reservation): it leaves the queue's reserved registry (a key of the wrong
            -- type there holds no reservation).
            local removed = redis.pcall('ZREM', K_RESERVED .. name_of(move.source_key, K_QUEUE), job_id)
            if removed ~= 1 then
                return 0
            end
        end
    elseif move.source == PLACE_REGISTRY then
        if redis.call('ZREM', move.source_key, job_id) == 0 then
            return 0
        end
    end

    local waits = false
    if move.target == PLACE_QUEUE then
        local queue_name = name_of(move.target_key, K_QUEUE)
        if may_queue(limit, job_id, queue_name) then
            push(t.known_key, queue_name, move.target_key, move.wake_key, job_id, move.at_front)
        else
            waits = true
        end
    elseif move.target == PLACE_REGISTRY then
        redis.call('ZADD', move.target_key, move.score, job_id)
    end

    hset_flat(record, edit.fields)
    if waits then
        redis.call('HSET', record, F_STATUS, S_RATE_LIMITED)  -- not queued, whatever the fields say
    end
    if edit.delete_fields then
        redis.call('HDEL', record, unpack(edit.delete_fields))
    end

    local result = t.result
    if result then
        -- Trimmed only when over the number kept (LTRIM of a shorter list would change nothing).
        if redis.call('LPUSH', results, result.entry) > result.last + 1 then
            redis.call('LTRIM', results, 0, result.last)
        end
    end

    if t.leave_dependencies and not t.no_dependency_sets then
        for _, parent in ipairs(redis.call('SMEMBERS', dependencies)) do
            redis.call('SREM', K_DEPENDENTS .. parent, job_id)
        end
        redis.call('DEL', dependencies)
    end

    if t.settlement and not t.no_dependency_sets then
        settle_dependents(t)
    end

    -- Dependents that still wait (POLICY_FAILED, or no settlement) share the record's lifetime.
    local data = t.no_dependency_sets and {record, results} or {record, results, dependencies, dependents}
    if edit.ttl == TTL_DELETE then
        redis.call('DEL', unpack(data))
    elseif edit.ttl == TTL_PERSIST then
        expire_all(data, '')
    elseif edit.ttl == TTL_KEEP then
        if result then
            share_expiry(record, results)
        end
    else
        expire_all(data, edit.expiry_ms)
    end
    if limit then
        local new_status = nil
        if edit.ttl ~= TTL_DELETE then
            new_status = redis.call('HGET', record, F_STATUS)
        end
        after_move(limit, job_id, old_status, new_status, t.released_fields, keep_until)
    end
    if t.worker then
        apply_worker_update(t.worker)
    end
    if t.tally then
        count_tally(t.tally)
    end
    return 1
end
