-- lib.lua: helpers shared by every jq script. Not a script of its own: scripts.py prepends it
-- (after the record field names it generates from jq.broker) to each script's source, so the
-- helpers are locals of each script's chunk (Redis forbids scripts from creating globals).
--
-- Nothing here names a key: keys come in KEYS, or as templates in ARGV for keys that a script
-- only discovers while it runs (a template plus an id is the key).

-- Lua 5.1 (Redis, fakeredis) has a global unpack; newer Luas moved it into table.
local unpack = unpack or table.unpack

-- Job statuses a script reads or writes (the values of jq.job.JobStatus).
local QUEUED, STARTED, DEFERRED, SCHEDULED = 'queued', 'started', 'deferred', 'scheduled'
local FINISHED, FAILED, STOPPED, CANCELED = 'finished', 'failed', 'stopped', 'canceled'

-- A KEYS entry the caller forgot reads as nil, which Lua tables and ipairs() silently cut
-- short: refuse the call instead.
local function expect_keys(count)
    if #KEYS < count then
        return error('jq script called with ' .. #KEYS .. ' keys; it needs at least ' .. count)
    end
end

-- ARGV is read front to back through a cursor so that variable-length parts (field pairs, id
-- lists) can follow each other; each list is preceded by its length.
local argn = 0
local function next_arg()
    argn = argn + 1
    return ARGV[argn]
end

local function next_list()
    local n = tonumber(next_arg())
    local list = {}
    for i = 1, n do
        list[i] = next_arg()
    end
    return list
end

-- A count of pairs followed by that many name, value pairs, as one flat list.
local function next_pairs()
    local n = tonumber(next_arg())
    local flat = {}
    for i = 1, 2 * n do
        flat[i] = next_arg()
    end
    return flat
end

-- HSET in slices: unpack() of a very long list would overflow Lua's C stack.
local function hset_flat(key, flat)
    for i = 1, #flat, 200 do
        redis.call('HSET', key, unpack(flat, i, math.min(i + 199, #flat)))
    end
end

-- A wake key holds at most one token: a claimer blocked in BLPOP on it takes the token and runs
-- the claim script, which puts a token back while the queue still has ids for another claimer.
local function wake(wake_key)
    redis.call('LPUSH', wake_key, '1')
    redis.call('LTRIM', wake_key, 0, 0)
end

-- Make the token match the queue: present when it holds ids, absent when it is empty (an
-- absent token for a non-empty queue would leave a blocked claimer asleep; a token for an empty
-- queue only costs one spurious wake-up, but there is no reason to keep it).
local function settle_wake(queue_key, wake_key)
    if redis.call('LLEN', queue_key) > 0 then
        wake(wake_key)
    else
        redis.call('DEL', wake_key)
    end
end

-- Every way onto a queue makes the queue known: a job on a queue is always findable through the
-- set of known queue names, however it got there.
local function push(known_key, queue_name, queue_key, wake_key, id, at_front)
    if at_front then
        redis.call('LPUSH', queue_key, id)
    else
        redis.call('RPUSH', queue_key, id)
    end
    redis.call('SADD', known_key, queue_name)
    wake(wake_key)
end

-- A job's results and dependency sets live exactly as long as its record: whatever sets or
-- removes the record's expiry does the same to them ('' = no expiry, else milliseconds). A key
-- that does not exist yet is unaffected, which is why share_expiry exists.
local function expire_all(keys, ms)
    for _, key in ipairs(keys) do
        if ms == '' then
            redis.call('PERSIST', key)
        else
            redis.call('PEXPIRE', key, ms)
        end
    end
end

-- Give `key` (just created or grown) the remaining lifetime of the record it belongs to.
local function share_expiry(record_key, key)
    local remaining = redis.call('PTTL', record_key)
    if remaining > 0 then
        redis.call('PEXPIRE', key, remaining)
    else
        redis.call('PERSIST', key)
    end
end

-- File a canceled job under `canceled_key` for `ttl` seconds (a number) counted from `now` (a
-- score as text): positive: scored now + ttl, its data keys (record, results, dependency sets)
-- expiring then; negative: kept forever (score inf, no expiry); zero: not kept at all (its data
-- keys deleted, no registry entry). Numbers are formatted here: a Lua number handed to
-- redis.call may reach the server as '3.1536e+10' or '5.0', which PEXPIRE refuses.
local function keep_canceled(canceled_key, job_id, data_keys, ttl, now)
    if ttl == 0 then
        redis.call('DEL', unpack(data_keys))
    elseif ttl > 0 then
        redis.call('ZADD', canceled_key, string.format('%.17g', tonumber(now) + ttl), job_id)
        expire_all(data_keys, string.format('%d', ttl * 1000))
    else
        redis.call('ZADD', canceled_key, 'inf', job_id)
        expire_all(data_keys, '')
    end
end

-- A TTL field as jq_backends.fields.failure_ttl reads it: whole seconds as text, else `default`.
local function whole_seconds(text, default)
    local seconds = default
    if text and string.match(text, '^%-?%d+$') then
        seconds = tonumber(text)
    end
    return seconds
end
