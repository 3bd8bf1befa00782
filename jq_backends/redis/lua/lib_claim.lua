-- lib_claim.lua: the claim step that claim.lua, finish_and_claim.lua and transition_many.lua make
-- (Broker.claim), with the caller's reservations, and the reserving step of reserve.lua
-- (Broker.reserve). A library like lib.lua, whose definitions it uses (and lib_rate_limit.lua's):
-- scripts.py prepends what a script needs of the library files, lib.lua's first.

-- == Claim (Broker.claim) =====================================================================
--
-- KEYS[first + m(i - 1)] .. KEYS[first + m(i - 1) + m - 1]: queue i, its started registry, its
--   wake key and, when the claim has reservations to start or to make (m = 4, else m = 3), its
--   reserved registry (i = 1..n, in the order the queues are tried); then, when the claim
--   updates a worker, the worker's record (the last KEYS entry: n * m + 1 keys in all)
-- ARGV: lease deadline (the started registry score, and the reservations' lease); when it starts
--   with 'r' (m = 4: the claim has reservations), r, then r reservations the caller holds (queue
--   index, job id, execution id), in the order it runs them, and s, then s execution ids for jobs
--   to reserve after the claim (a plain claim sends neither); the worker update (see lib.lua's
--   Worker updates) when there is a worker's record; then, to the end of ARGV, field/value pairs
--   to write on the job (a claim is always the last part of a call)

-- Read a claim whose KEYS start at `first`, into a table: first (its first KEYS entry), queues
-- (how many queues, n), per_queue (m), lease (the lease deadline), reserved (the caller's
-- reservations: index, job_id, execution) and reserve (execution ids), both nil for a plain
-- claim, worker (the update, or nil),
-- fields (the field/value pairs to write on the claimed job) and problems (see claim_next).
local function next_claim(first)
    local lease = next_arg()
    local reserved, reserve, per_queue = nil, nil, 3
    if string.sub(lease, 1, 1) == 'r' then
        -- (A plain claim makes none of these tables: it runs on every job.)
        lease, per_queue, reserved = string.sub(lease, 2), 4, {}
        for i = 1, tonumber(next_arg()) do
            reserved[i] = {index = tonumber(next_arg()), job_id = next_arg(), execution = next_arg()}
        end
        reserve = next_list()
    end
    local count = #KEYS - first + 1
    local claim = {first = first, queues = math.floor(count / per_queue), per_queue = per_queue, lease = lease,
        reserved = reserved, reserve = reserve, problems = {}}
    if count % per_queue == 1 then
        claim.worker = next_worker_update(KEYS[#KEYS])
    end
    claim.fields = rest_of_args()
    return claim
end

-- The execution id among a claim's field/value pairs, or nil.
local function execution_of(fields)
    for i = 1, #fields, 2 do
        if fields[i] == F_EXECUTION then
            return fields[i + 1]
        end
    end
    return nil
end

-- Note a key of the wrong type among a claim's problems ({what, queue index, key or job id,
-- what it holds}, flat).
local function claim_problem(claim, what, i, name, found)
    local p = claim.problems
    p[#p + 1], p[#p + 2], p[#p + 3], p[#p + 4] = what, i, name, found
end

-- The record (HGETALL's field, value...) of the job that reservation `r` still holds: in
-- `reserved_key`, status 'queued', its execution field r.execution; else nil. The entry of a job
-- whose record is gone leaves the registry.
local function held_record(reserved_key, r)
    if not redis.call('ZSCORE', reserved_key, r.job_id) then
        return nil
    end
    local record = redis.pcall('HGETALL', K_JOB .. r.job_id)
    if record.err then
        return nil  -- not a record: left for maintenance, which fails nothing it cannot read
    end
    if #record == 0 then
        redis.call('ZREM', reserved_key, r.job_id)
        return nil
    end
    local status, execution
    for i = 1, #record, 2 do
        if record[i] == F_STATUS then
            status = record[i + 1]
        elseif record[i] == F_EXECUTION then
            execution = record[i + 1]
        end
    end
    if status ~= S_QUEUED or execution ~= r.execution then
        return nil
    end
    return record
end

-- A field's value in a record as HGETALL returns it, or nil.
local function field_of(record, name)
    for i = 1, #record, 2 do
        if record[i] == name then
            return record[i + 1]
        end
    end
    return nil
end

-- Every reservation of the claim still held goes back to the front of its queue, the last one
-- first (so they keep their order), without its execution id, waking a claimer. One whose queue
-- or reserved registry holds the wrong type is left as it is (nothing is written that could
-- fail half way).
local function give_back_reserved(claim)
    for n = #claim.reserved, 1, -1 do
        local r = claim.reserved[n]
        local base = claim.first + claim.per_queue * (r.index - 1)
        local queue_key, wake_key, reserved_key = KEYS[base], KEYS[base + 2], KEYS[base + 3]
        -- (Index 0: a queue the claim does not list, whose keys it does not have.)
        local record = r.index > 0 and holds(queue_key, 'list') and holds(reserved_key, 'zset')
            and held_record(reserved_key, r)
        if record then
            redis.call('ZREM', reserved_key, r.job_id)
            redis.call('HDEL', K_JOB .. r.job_id, F_EXECUTION)
            local limit = limit_from(field_of(record, F_RATE_LIMIT_KEY), field_of(record, F_RATE_LIMIT_CONCURRENCY))
            local queue_name = name_of(queue_key, K_QUEUE)
            if may_queue(limit, r.job_id, queue_name) then
                push(nil, queue_name, queue_key, wake_key, r.job_id, true)
            else
                redis.call('HSET', K_JOB .. r.job_id, F_STATUS, S_RATE_LIMITED)  -- waits for a slot
            end
        end
    end
end

-- Reserve jobs off the front of `queue_key` into `reserved_key` while fewer than #ids are in
-- `made` (their ids): the n-th job reserved (0-based) gets ids[n + 1] as its execution id and the
-- score lease + n * RESERVATION_STEP. Ids whose record is gone or whose status is a known one
-- other than 'queued' are dropped, as a claim drops them. Returns false when a record with no
-- status or an unknown one, or a key that is not a record, stopped it: that id is put back at
-- the front, for a claim to take (and report).
local function reserve_from(queue_key, reserved_key, ids, lease, made)
    while #made < #ids do
        local job_id = redis.call('LPOP', queue_key)
        if not job_id then
            return true
        end
        local record_key = K_JOB .. job_id
        local status = redis.pcall('HGET', record_key, F_STATUS)
        if type(status) == 'table' or (not status and redis.call('EXISTS', record_key) == 1)
            or (status and status ~= S_QUEUED and not PLACE_OF_STATUS[status]) then
            redis.call('LPUSH', queue_key, job_id)
            return false
        end
        if status == S_QUEUED then
            local n = #made
            redis.call('HSET', record_key, F_EXECUTION, ids[n + 1])
            redis.call('ZADD', reserved_key, string.format('%.17g', tonumber(lease) + n * RESERVATION_STEP), job_id)
            made[n + 1] = job_id
        end
    end
    return true
end

-- Start job `job_id` (its record key's HGETALL was `record`) for the claim from queue `i`: the
-- claim's fields and status 'started', no expiry (a started job never expires), the started
-- registry under the lease, and the worker's record updated.
local function start_claimed(claim, started_key, job_id)
    hset_flat(K_JOB .. job_id, with_status(claim.fields, S_STARTED))
    persist_data(data_keys(job_id))
    redis.call('ZADD', started_key, claim.lease, job_id)
end

-- The claim's reply: {queue index, job id, the record before the claim, problems}, then, with
-- `made` (a claim with reservations), the 1-based position in claim.reserved of the one it
-- started (0: none) and the ids of the jobs it reserved (`made`); with
-- claimed_by and prior_status for Requests (see lib.lua's record_reply).
local function claim_reply(claim, i, job_id, record, prior_status, from_reserved, made)
    if claim.worker then
        apply_worker_update(claim.worker, job_id)
    end
    local reply = {i, job_id, record, claim.problems}
    if made then
        reply[5], reply[6] = from_reserved, made
        reply.extras = true
    end
    -- What a repeat of the call needs to rebuild this reply rather than record it (see
    -- Requests); Redis sends only a table's list part.
    reply.claimed_by, reply.prior_status = execution_of(claim.fields), prior_status or false
    return reply
end

-- A claim's reservation steps (see Broker.claim), which claim_next takes as `steps` from the
-- scripts whose claims may have reservations (transition_many.lua): a plain claim's script
-- carries none of this code (each function of a script's chunk is made again on every call).
--   start(claim, i, started_key): before queue i's ids, start the caller's first reservation of
--     that queue still held; the reply, or nil (false when its reserved registry holds the wrong
--     type: the queue is skipped);
--   popped(claim, i, queue_key): after a job was taken off queue i, give every reservation still
--     held back, and reserve the jobs asked for when the queue is deep enough; their ids;
--   none(claim): nothing was claimed: give back what is still held.
local reserving = {
    start = function(claim, i, started_key)
        local reserved_key = KEYS[claim.first + claim.per_queue * (i - 1) + 3]
        local usable, found = holds(reserved_key, 'zset')
        if not usable then
            claim_problem(claim, 'registry', i, reserved_key, found)
            return false
        end
        for position, r in ipairs(claim.reserved) do
            local record = r.index == i and held_record(reserved_key, r)
            if record then
                redis.call('ZREM', reserved_key, r.job_id)
                start_claimed(claim, started_key, r.job_id)
                return claim_reply(claim, i, r.job_id, record, S_QUEUED, position, {})
            end
        end
        return nil
    end,
    popped = function(claim, i, queue_key)
        give_back_reserved(claim)
        local made = {}
        local reserved_key = KEYS[claim.first + claim.per_queue * (i - 1) + 3]
        if #claim.reserve > 0 and redis.call('LLEN', queue_key) >= #claim.reserve then
            reserve_from(queue_key, reserved_key, claim.reserve, claim.lease, made)
        end
        return made
    end,
    none = function(claim)
        give_back_reserved(claim)
    end,
}

-- Pops ids from the queues in order, dropping ids whose record is gone (expired) or whose status
-- is a known one other than 'queued' (a missing or unknown status is claimed); writes the fields
-- and status 'started' on the first good one, removes its expiry and that of its results and
-- dependency sets (a started job never expires), enters it in the started registry under the
-- lease, leaves each queue's wake token matching whether the queue still holds ids, and updates
-- the worker. With `steps` (`reserving`, for a claim with reservations), a queue from which the
-- caller holds reservations gives the first one still held first; a job taken off a queue gives
-- every reservation still held back, and is followed by the reservations asked for, when its
-- queue is deep enough. Returns the reply (see claim_reply), or nil when every queue is empty
-- ({0, '', {}, problems} when there were problems). The record is read once, before the claim
-- writes: the caller adds the fields it sent and the status itself, which spares a read and the
-- transfer of what it already knows.
--
-- A key of the wrong type never fails the claim half way (Redis would keep what it wrote, such
-- as a job popped and started by nobody, or the transition finish_and_claim made first): a queue
-- whose started registry or reserved registry is not a sorted set (checked before its first pop)
-- or whose list is not a list is skipped, a popped id whose job key is not a hash is dropped, a
-- later queue whose list is not a list keeps its wake token as it is; each is among the
-- `problems` (what: 'queue', 'registry' or 'job'). A wake key is only tested for existence,
-- written when absent, or deleted: its type does not matter here.
local function claim_next(claim, steps)
    local first, per_queue = claim.first, claim.per_queue
    if per_queue == 4 and not steps then
        return error('jq claim with reservations sent to a script that does not make them')
    elseif per_queue ~= 4 then
        steps = nil  -- a plain claim, whatever script makes it
    end
    for i = 1, claim.queues do
        local base = first + per_queue * (i - 1)
        local queue_key, started_key, wake_key = KEYS[base], KEYS[base + 1], KEYS[base + 2]
        local usable, found = holds(started_key, 'zset')
        if not usable then
            claim_problem(claim, 'registry', i, started_key, found)
        elseif steps then
            local started = steps.start(claim, i, started_key)
            if started then
                return started
            end
            usable = started == nil
        end
        while usable do
            local job_id = redis.pcall('LPOP', queue_key)
            if type(job_id) == 'table' then  -- an error: the queue's key is not a list
                claim_problem(claim, 'queue', i, queue_key, type_of(queue_key))
                usable = false
                break
            end
            if not job_id then
                break
            end
            local record_key = K_JOB .. job_id
            local record = redis.pcall('HGETALL', record_key)
            if record.err then
                -- Not a record: dropped (it is popped), and reported; nothing of it can run.
                claim_problem(claim, 'job', i, job_id, type_of(record_key))
                record = {}
            end
            local status = status_of(record)
            -- A missing or unknown status is a corrupt record: claimed, so that the worker fails
            -- it (it sees the status the record had); a known other status lives elsewhere.
            if #record > 0 and (status == S_QUEUED or not status or not PLACE_OF_STATUS[status]) then
                start_claimed(claim, started_key, job_id)
                local made = steps and steps.popped(claim, i, queue_key)
                -- The caller may have taken a token from any of its queues' wake keys in BLPOP;
                -- put back the token of each queue that still holds ids, so a claimer blocked on
                -- them (possibly listening to other queues than this one) wakes up.
                for j = i, claim.queues do
                    local other = first + per_queue * (j - 1)
                    local length = redis.pcall('LLEN', KEYS[other])
                    if type(length) ~= 'number' then
                        length = 0  -- not a list: no job to wake anyone for
                    end
                    if length > 0 then
                        wake(KEYS[other + 2])
                    else
                        redis.call('DEL', KEYS[other + 2])
                    end
                end
                return claim_reply(claim, i, job_id, record, status, 0, made)
            end
        end
        if usable then
            -- Empty now: a token left here would only cause a spurious wake-up.
            redis.call('DEL', wake_key)
        end
    end
    if steps then
        steps.none(claim)
    end
    if #claim.problems > 0 then
        return {0, '', {}, claim.problems}
    end
    return nil
end
