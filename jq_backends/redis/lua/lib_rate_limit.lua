-- lib_rate_limit.lua: rate-limit slots (jq.broker.RateLimitStore), taken and freed by the
-- scripts that move jobs: a job limited by a key holds one of the key's slots while it is queued
-- or started; the others wait in the key's line, in their origin's rate_limited registry, with
-- status 'rate_limited', until a slot is free. A library like lib.lua, whose definitions it uses:
-- scripts.py prepends what a script needs of the library files, lib.lua's first.
--
-- A key's data: K_RATE_LIMIT_SLOTS .. key (ids holding a slot, scored by when they took it, or
-- by the lease deadline of a job canceled while it ran), K_RATE_LIMIT_WAITING .. key (ids in
-- line, scored by their place in it), K_RATE_LIMIT .. key (a hash: F_LIMIT_CONCURRENCY, the last
-- asked for, and F_LIMIT_SEQ, the last place given in line), and KEY_RATE_LIMITS (the keys in use). These
-- keys are found in job records while a script runs, so they are built here from the templates
-- (Cluster: every key under one hash slot, as for the other scripts that touch many jobs).

-- A limit as a record names it (its key field and its concurrency field), or nil: a key and a
-- whole concurrency of at least 1, as jq_backends.memory._slots.limit_of reads them.
local function limit_from(key, concurrency)
    if not key or key == '' or not concurrency or not string.match(concurrency, '^%d+$') then
        return nil
    end
    local n = tonumber(concurrency)
    if n < 1 then
        return nil
    end
    return {key = key, concurrency = n}
end

-- The limit in a flat list of field/value pairs (a request's fields), or nil.
local function limit_in(flat)
    local key, concurrency
    for i = 1, #flat, 2 do
        if flat[i] == F_RATE_LIMIT_KEY then
            key = flat[i + 1]
        elseif flat[i] == F_RATE_LIMIT_CONCURRENCY then
            concurrency = flat[i + 1]
        end
    end
    return limit_from(key, concurrency)
end

-- A score as text: a Lua number handed to redis.call may reach the server as '1.7e+09'.
local function score_text(number)
    return string.format('%.17g', number)
end

-- Rule 1 before a job goes onto queue `queue`: whether it may (no limit, a slot it holds, or a
-- slot free and nobody waiting: it takes it). When it may not, it joins the back of its key's
-- line and `queue`'s rate_limited registry, and the caller writes status 'rate_limited' instead
-- of 'queued' and pushes nothing.
local function may_queue(limit, job_id, queue)
    if not limit then
        return true
    end
    local slots = K_RATE_LIMIT_SLOTS .. limit.key
    if redis.call('ZSCORE', slots, job_id) then
        return true
    end
    local config = K_RATE_LIMIT .. limit.key
    local now = score_text(server_now())
    redis.call('HSET', config, F_LIMIT_CONCURRENCY, limit.concurrency)
    redis.call('SADD', KEY_RATE_LIMITS, limit.key)
    local waiting = K_RATE_LIMIT_WAITING .. limit.key
    if redis.call('EXISTS', waiting) == 0 and redis.call('ZCARD', slots) < limit.concurrency then
        redis.call('ZADD', slots, now, job_id)
        return true
    end
    redis.call('ZADD', waiting, redis.call('HINCRBY', config, F_LIMIT_SEQ, 1), job_id)
    redis.call('ZADD', K_RATE_LIMITED .. queue, now, job_id)
    return false
end

-- A key left with no slot held and nobody waiting is forgotten.
local function forget_if_unused(key)
    if redis.call('EXISTS', K_RATE_LIMIT_SLOTS .. key, K_RATE_LIMIT_WAITING .. key) == 0 then
        redis.call('DEL', K_RATE_LIMIT .. key)
        redis.call('SREM', KEY_RATE_LIMITS, key)
    end
end

-- Rule 3: admit the jobs waiting for `key` in line order while the first one's concurrency allows:
-- each leaves the line and its origin's rate_limited registry, takes a slot, gets `fields` (flat
-- pairs) and then status 'queued', and goes to its queue (the front when its enqueue_at_front
-- field is '1'), waking a claimer. Ids in line whose record is gone or no longer 'rate_limited'
-- are dropped. Returns the ids admitted.
local function fill(key, fields)
    local slots, waiting = K_RATE_LIMIT_SLOTS .. key, K_RATE_LIMIT_WAITING .. key
    local admitted = {}
    while true do
        local first = redis.call('ZRANGE', waiting, 0, 0)[1]
        if not first then
            break
        end
        local record = K_JOB .. first
        -- A job key of another type than a hash is not a waiting job: it leaves the line.
        local v = redis.pcall('HMGET', record, F_STATUS, F_ORIGIN, F_RATE_LIMIT_CONCURRENCY, F_ENQUEUE_AT_FRONT)
        if v.err or v[1] ~= S_RATE_LIMITED or not v[2] then
            redis.call('ZREM', waiting, first)
        else
            local concurrency = (v[3] and string.match(v[3], '^%d+$') and tonumber(v[3])) or 1
            if redis.call('ZCARD', slots) >= concurrency then
                break
            end
            redis.call('ZREM', waiting, first)
            redis.call('ZREM', K_RATE_LIMITED .. v[2], first)
            redis.call('ZADD', slots, score_text(server_now()), first)
            push(KEY_QUEUES, v[2], K_QUEUE .. v[2], K_WAKE .. v[2], first, v[4] == '1')
            hset_flat(record, with_status(fields, S_QUEUED))
            admitted[#admitted + 1] = first
        end
    end
    return admitted
end

-- Rules 2 and 4 after a call moved a job limited by `limit` (nil: none, nothing to do) from
-- `old_status` to `new_status` (nil: its record was deleted): it leaves its line, and frees its
-- slot unless it is queued or started, then the line moves with `fields` on each admitted job;
-- with `keep_until` (a score: a running job ended by another call than its execution's outcome)
-- it keeps the slot, scored by that deadline, instead.
local function after_move(limit, job_id, old_status, new_status, fields, keep_until)
    if not limit then
        return
    end
    if old_status == S_RATE_LIMITED and new_status ~= S_RATE_LIMITED then
        redis.call('ZREM', K_RATE_LIMIT_WAITING .. limit.key, job_id)
    end
    if new_status ~= S_QUEUED and new_status ~= S_STARTED then
        local slots = K_RATE_LIMIT_SLOTS .. limit.key
        if keep_until then
            redis.call('ZADD', slots, 'XX', keep_until, job_id)
        elseif redis.call('ZREM', slots, job_id) == 1 then
            fill(limit.key, fields)
        end
    end
    forget_if_unused(limit.key)
end
