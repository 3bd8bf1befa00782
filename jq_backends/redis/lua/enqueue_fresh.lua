-- enqueue_fresh.lua: enqueue jobs that need no check and replace nothing, all or nothing (the
-- common case of Broker.enqueue and Broker.enqueue_many, see RedisQueues._fresh).
--
-- KEYS[1] the set of known queue names, then for each request i (i = 1..n), 6 keys from
--   KEYS[6i - 4]: the job's record, its results, its set of dependents, its set of unmet
--   dependencies, the queue, the queue's wake key
-- ARGV: optionally 's', s, then s field/value pairs that every record has (a batch's shared
--   fields, sent once); then for each request: at front ('1' or '0'), record expiry in ms ('' = none), m, then m
--   field/value pairs of the record's own (without its status), which win over the shared ones;
--   the last request's pairs run to the end of ARGV, without m
-- Returns 1 when every job was stored and queued; 0 when some job is not fresh (then nothing was
-- written, and the caller sends the requests to enqueue.lua or enqueue_many.lua instead). Raises
-- an error, having written nothing, when a queue or the set of known queue names holds the wrong
-- type.
--
-- A request comes here only when it has no dependencies and is neither unique, once nor
-- scheduled: enqueue.lua checks nothing for it and, when none of its data keys exists (no job to
-- replace, no results or dependency sets left over), writes exactly what this script writes.
-- So this script makes sure of that first: any data key of a request that exists, or an id that
-- two requests share, and it writes nothing.
--
-- Atomically, once every request is found fresh: each queue made known; each record written with
-- status 'queued' (and its expiry), its id pushed on its queue (front or back); a wake token on
-- each queue that has none.

local known_key = KEYS[1]
local n = math.floor((#KEYS - 1) / 6)
expect_keys(6 * n + 1)
-- Request i's keys start at KEYS[6i - 4]: record, results, dependents, dependencies, queue, wake.
local seen = {}
for i = 1, n do
    local first = 6 * i - 4
    local record, results, dependents, dependencies = KEYS[first], KEYS[first + 1], KEYS[first + 2], KEYS[first + 3]
    if seen[record] or redis.call('EXISTS', record, results, dependents, dependencies) > 0 then
        return 0
    end
    seen[record] = true
end

-- The queues (and the set of their names) the requests will write, checked before the first
-- write: one of the wrong type refuses the whole call, naming the key.
local typed = {[known_key] = true}
local expected = {known_key, 'set'}
for i = 1, n do
    local queue_key = KEYS[6 * i]
    if not typed[queue_key] then
        typed[queue_key] = true
        expected[#expected + 1], expected[#expected + 2] = queue_key, 'list'
    end
end
expect_types(expected)

local shared = {}
if ARGV[1] == 's' then
    next_arg()
    shared = next_pairs()
end
local known, wake_keys = {}, {}
for i = 1, n do
    local first = 6 * i - 4
    local record, queue_key, wake_key = KEYS[first], KEYS[first + 4], KEYS[first + 5]
    local at_front, expiry_ms = next_arg(), next_arg()
    local fields = {}
    for j = 1, #shared do
        fields[j] = shared[j]
    end
    -- The record's own fields after the shared ones (HSET keeps the last value of a field).
    local own_count
    if i == n then
        own_count = #ARGV - argn
    else
        own_count = 2 * tonumber(next_arg())
    end
    local size = #shared
    for j = 1, own_count do
        fields[size + j] = ARGV[argn + j]
    end
    argn = argn + own_count
    fields[#fields + 1], fields[#fields + 2] = F_STATUS, S_QUEUED  -- last: the status wins
    hset_flat(record, fields)
    if expiry_ms ~= '' then
        redis.call('PEXPIRE', record, expiry_ms)
    end
    if at_front == '1' then
        redis.call('LPUSH', queue_key, name_of(record, K_JOB))
    else
        redis.call('RPUSH', queue_key, name_of(record, K_JOB))
    end
    if not known[queue_key] then
        known[queue_key] = true
        redis.call('SADD', known_key, name_of(queue_key, K_QUEUE))
        wake_keys[#wake_keys + 1] = wake_key
    end
end
for _, wake_key in ipairs(wake_keys) do
    wake(wake_key)
end
return 1
