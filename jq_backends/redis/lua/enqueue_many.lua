-- enqueue_many.lua: store a batch of jobs, all or nothing (Broker.enqueue_many).
--
-- KEYS: each request's keys, one request after the other
-- ARGV: n (the number of requests), then each request's arguments, in the same order (both laid
--   out at the top of lib_enqueue.lua; the fields of the last request run to the end of ARGV)
-- Returns one reply per request, in order: when every request passes its checks, {status
-- written} for each; else {'', reason} for each refused request and {'', 'batch'} for each of
-- the others, and nothing was written.
--
-- Atomically: every request is checked first, in order, against the store as the batch will
-- leave it (an id of an earlier request exists with the status it will get, its unmet
-- dependencies and marker count; an id of a later request exists as a job not ended yet); a
-- refused request counts as writing nothing. Then, only if none was refused, each request is
-- written as enqueue.lua writes one, in order, an id of a later request counting as an unmet
-- dependency. Touches
-- keys of every job of the batch and of their dependencies: on Redis Cluster all of them must
-- share one hash slot (a prefix with a hash tag).

local n = tonumber(next_arg())
local requests = {}
local first = 1
for i = 1, n do
    requests[i] = next_enqueue(first, i == n)
    first = requests[i].next_key
end

-- How many requests still to come enqueue each id, while checking, then while writing.
local function count_ids()
    local counts = {}
    for _, request in ipairs(requests) do
        counts[request.job_id] = (counts[request.job_id] or 0) + 1
    end
    return counts
end

local upcoming = count_ids()
local batch = new_batch(upcoming)
local replies, refused = {}, false
for i, request in ipairs(requests) do
    upcoming[request.job_id] = upcoming[request.job_id] - 1
    local refusal = enqueue_refusal(request, batch)
    if refusal then
        replies[i], refused = refusal, true
    else
        note_enqueued(batch, request)
    end
end
if refused then
    for i = 1, n do
        replies[i] = replies[i] or {'', R_BATCH}
    end
    return replies
end
upcoming = count_ids()
for i, request in ipairs(requests) do
    upcoming[request.job_id] = upcoming[request.job_id] - 1
    replies[i] = {enqueue_write(request, upcoming)}
end
return replies
