-- lib_enqueue.lua: the steps of an enqueue (Broker.enqueue), shared by enqueue.lua (one request)
-- and enqueue_many.lua (a batch, all or nothing). A library like lib.lua, whose definitions it
-- uses: scripts.py prepends what a script needs of the library files, lib.lua's first.
--
-- One request's KEYS, from its first key on:
--   the job's record, the queue, the queue's wake key, the set of known queue names, the job's
--   results, its set of dependents, its set of unmet dependencies, then, each only when the
--   flags say so, in order: the `once` marker ('o'), the queue's scheduled registry ('s'), the
--   queue's deferred registry and, for each dependency i, its record and its dependents set
--   ('d'), the group's set of ids and the set of group names ('g')
-- One request's ARGV: flags (letters: 'f' at front, 'a' allow failure, 'u' unique, 'o' once,
--   's' scheduled, 'd' dependencies, 'g' group), record expiry in ms ('' = none), then, each
--   only when the flags say so: the marker value ('o'), the scheduled_at score ('s'), n, now (the
--   broker's clock: the deferred score) and the n dependency ids (distinct) ('d'), the group's
--   name ('g'); last the field/value
--   pairs of the record (without its status): to the end of ARGV for the last request of a
--   call, else m, m pairs.

-- Read one request (see above) whose KEYS start at `first`; `last` when its fields run to the
-- end of ARGV. The request's next_key is where the next request's KEYS start.
local function next_enqueue(first, last)
    local flags = next_arg()
    local function flag(letter)
        return string.find(flags, letter, 1, true) ~= nil
    end
    local r = {
        at_front = flag('f'), allow_failure = flag('a'), unique = flag('u'), expiry_ms = next_arg(),
        record = KEYS[first], queue_key = KEYS[first + 1], wake_key = KEYS[first + 2],
        known_key = KEYS[first + 3], results_key = KEYS[first + 4],
        dependents_key = KEYS[first + 5], unmet_key = KEYS[first + 6], depends_on = {},
    }
    expect_keys(first + 6)
    r.job_id, r.queue_name = name_of(r.record, K_JOB), name_of(r.queue_key, K_QUEUE)
    local k = first + 7
    if flag('o') then
        r.marker_key, r.once_value = KEYS[k], next_arg()
        k = k + 1
    end
    if flag('s') then
        r.scheduled_key, r.scheduled_at = KEYS[k], next_arg()
        k = k + 1
    end
    if flag('d') then
        r.deferred_key = KEYS[k]
        local n = tonumber(next_arg())
        r.now = next_arg()
        r.first_dependency = k + 1
        for i = 1, n do
            r.depends_on[i] = next_arg()
        end
        k = k + 1 + 2 * n
    end
    if flag('g') then
        r.group_key, r.groups_key, r.group = KEYS[k], KEYS[k + 1], next_arg()
        k = k + 2
    end
    expect_keys(k - 1)
    if last then
        r.fields = rest_of_args()
    else
        r.fields = next_pairs()
    end
    r.next_key = k
    -- Every request is read before anything is written: the keys it will write that hold the
    -- wrong type refuse the call now, not half way (the job's own sets seldom exist: one EXISTS).
    expect_types({r.queue_key, 'list', r.known_key, 'set', r.scheduled_key or false, 'zset',
        r.deferred_key or false, 'zset', r.group_key or false, 'set', r.groups_key or false, 'set'})
    if redis.call('EXISTS', r.results_key, r.dependents_key, r.unmet_key) > 0 then
        expect_types({r.results_key, 'list', r.dependents_key, 'set', r.unmet_key, 'set'})
    end
    return r
end

-- The record and the dependents set of the request's dependency i.
local function dependency_record(r, i)
    return KEYS[r.first_dependency + 2 * i - 2]
end

local function dependency_dependents(r, i)
    return KEYS[r.first_dependency + 2 * i - 1]
end

-- The store as a request's checks see it: as it is, plus what the requests of the same batch
-- will write: the earlier ones as note_enqueued noted them (`jobs[id]` = {status, unmet
-- dependency ids}, `markers[key]` a marker's value), the later ones as jobs that exist and have
-- not ended (`upcoming[id]`: how many requests still to come enqueue the id).
local function new_batch(upcoming)
    return {jobs = {}, markers = {}, upcoming = upcoming or {}}
end

local function batch_upcoming(batch, id)
    return (batch.upcoming[id] or 0) > 0
end

-- The job's status, or nil (no record, or a record without a status); 'queued' for a job a later
-- request of the batch enqueues.
local function batch_status(batch, id, key)
    local job = batch.jobs[id]
    if job then
        return job.status
    end
    if batch_upcoming(batch, id) then
        return S_QUEUED
    end
    return redis.call('HGET', key, F_STATUS) or nil
end

-- Whether a record with this id exists, or a request of the batch (earlier or to come) writes one.
local function batch_exists(batch, id, key)
    if batch.jobs[id] or batch_upcoming(batch, id) then
        return true
    end
    return redis.call('EXISTS', key) == 1
end

local function batch_unmet(batch, id)
    local job = batch.jobs[id]
    if job == nil then
        return redis.call('SMEMBERS', K_DEPENDENCIES .. id)
    end
    return job.unmet
end

-- Steps 4 to 7: the status the request's job gets and the indexes of its unmet dependencies. A
-- dependency without a record is met (RQ's rule); one with a record is met when it finished, or
-- failed and the request allows failure.
local function enqueue_placement(r, batch)
    local unmet = {}
    for i, dependency in ipairs(r.depends_on) do
        local key = dependency_record(r, i)
        local status = batch_status(batch, dependency, key)
        local exists = status or redis.call('EXISTS', key) == 1
        if exists and status ~= S_FINISHED and not (r.allow_failure and status == S_FAILED) then
            unmet[#unmet + 1] = i
        end
    end
    if #unmet > 0 then
        return S_DEFERRED, unmet
    elseif r.scheduled_key then
        return S_SCHEDULED, unmet
    end
    return S_QUEUED, unmet
end

-- Step 1: the refusal of the request as a reply ({'', reason}), or nil. Reads only: nothing is
-- written.
local function enqueue_refusal(r, batch)
    -- Unique: refused while any record with this id exists (also one that ended), as in RQ.
    if r.unique and batch_exists(batch, r.job_id, r.record) then
        return {'', R_DUPLICATE}
    end
    if r.marker_key then
        -- A marker that holds no number counts as unset (and is overwritten).
        local value = batch.markers[r.marker_key]
        if value == nil then
            value = redis.call('GET', r.marker_key)
        end
        local reached = tonumber(value or '')
        if reached and reached >= tonumber(r.once_value) then
            return {'', R_ALREADY}
        end
    end
    -- A cycle: some job this one would wait for waits, through sets of unmet dependencies, for
    -- it. `seen` keeps the walk finite whatever cycles already exist among other jobs.
    local walk, seen = {}, {}
    for i, dependency in ipairs(r.depends_on) do
        walk[i] = dependency
    end
    while #walk > 0 do
        local id = table.remove(walk)
        if id == r.job_id then
            return {'', R_CYCLE}
        end
        if not seen[id] then
            seen[id] = true
            for _, next_id in ipairs(batch_unmet(batch, id)) do
                walk[#walk + 1] = next_id
            end
        end
    end
    return nil
end

-- Count what a request that passed its checks will write, for the checks of the requests after
-- it in the batch.
local function note_enqueued(batch, r)
    local status, unmet = enqueue_placement(r, batch)
    local ids = {}
    for _, i in ipairs(unmet) do
        ids[#ids + 1] = r.depends_on[i]
    end
    batch.jobs[r.job_id] = {status = status, unmet = ids}
    if r.marker_key then
        batch.markers[r.marker_key] = r.once_value
    end
end

-- Steps 2 to 7 of a request whose checks passed: the marker; the replaced job taken out of the
-- place its old status names in its old origin and out of its old dependencies' dependents (its
-- own dependents stay: they wait for the new job) and out of its rate limit's line and slot; the
-- queue made known, the group joined; then the record with its status (and the scheduled time),
-- placed in the deferred or scheduled registry or in the queue (waking a blocked claimer), or,
-- when its rate limit has no slot for it, in its key's line (status 'rate_limited'). The record's expiry (or none) applies to its results and
-- dependency sets too, and a dependency's set of dependents shares that dependency's expiry.
-- `upcoming`: what later requests of the same batch enqueue (see new_batch). Returns the status.
local function enqueue_write(r, upcoming)
    if r.marker_key then
        redis.call('SET', r.marker_key, r.once_value)
    end
    local record, job_id = r.record, r.job_id
    local old = redis.call('HMGET', record, F_STATUS, F_ORIGIN, F_RATE_LIMIT_KEY, F_RATE_LIMIT_CONCURRENCY)
    local old_limit, keep_until = limit_from(old[3], old[4]), nil
    local old_place = old[1] and PLACE_OF_STATUS[old[1]]
    if old_place and old[2] then
        local key = old_place .. old[2]
        if old_place == K_QUEUE then
            if redis.call('LREM', key, 0, job_id) > 0 then
                settle_wake(key, K_WAKE .. old[2])
            else
                -- Reserved by a worker: still in its queue, for the job that replaces it.
                redis.pcall('ZREM', K_RESERVED .. old[2], job_id)
            end
        else
            if old_limit and old[1] == S_STARTED then
                keep_until = redis.call('ZSCORE', key, job_id) or nil
            end
            redis.call('ZREM', key, job_id)
        end
    end
    -- The replaced job leaves its rate limit's line and frees its slot (a running one keeps it
    -- until its lease: its code may still be running).
    after_move(old_limit, job_id, old[1], nil, {}, keep_until)
    -- The new job waits only on what this request names: the old one leaves the dependents of
    -- what it waited for (dependent_ids lists the jobs still waiting).
    for _, parent in ipairs(redis.call('SMEMBERS', r.unmet_key)) do
        redis.call('SREM', K_DEPENDENTS .. parent, job_id)
    end
    redis.call('DEL', record, r.unmet_key)
    redis.call('SADD', r.known_key, r.queue_name)
    if r.group_key then
        redis.call('SADD', r.group_key, job_id)
        redis.call('SADD', r.groups_key, r.group)
    end

    local status, unmet = enqueue_placement(r, new_batch(upcoming))
    if status == S_QUEUED and not may_queue(limit_in(r.fields), job_id, r.queue_name) then
        status = S_RATE_LIMITED  -- it waits for a slot of its rate limit, off the queue
    end
    local fields = r.fields
    if r.scheduled_at then
        -- After the request's fields, like the status, so that none of them overrides it.
        fields[#fields + 1], fields[#fields + 2] = F_SCHEDULED_AT, r.scheduled_at
    end
    hset_flat(record, with_status(fields, status))
    local data = {record, r.results_key, r.dependents_key, r.unmet_key}
    if status == S_DEFERRED then
        redis.call('ZADD', r.deferred_key, r.now, job_id)
        for _, i in ipairs(unmet) do
            redis.call('SADD', r.unmet_key, r.depends_on[i])
            redis.call('SADD', dependency_dependents(r, i), job_id)
            -- Expires with its job, so a later job under that id does not inherit this dependent.
            share_expiry(dependency_record(r, i), dependency_dependents(r, i))
        end
    elseif status == S_SCHEDULED then
        redis.call('ZADD', r.scheduled_key, r.scheduled_at, job_id)
    elseif status == S_QUEUED then
        push(nil, r.queue_name, r.queue_key, r.wake_key, job_id, r.at_front)  -- known already
    end
    -- The record was just written afresh (deleted above), so it has no expiry of its own yet.
    expire_fresh(data, r.expiry_ms)
    return status
end
