-- lib.lua: helpers shared by every jq script, worker updates, and the claim step that several
-- scripts make. Not a script of its own: scripts.py prepends to each script's source (after the
-- constants the code uses) the definitions of this file that the script uses, so the helpers are
-- locals of each script's chunk (Redis forbids scripts from creating globals). Every top-level
-- statement here is a `local` definition at column 0, with its comment just above it: that is
-- how scripts.py tells them apart (see library_for).
--
-- Nothing here names a key: keys come in KEYS, or are a baked key template (K_JOB is the
-- broker's 'jq:job:', see scripts.py) plus an id for keys that a script only discovers while it
-- runs. Field names (F_STATUS...), job statuses (S_QUEUED... from jq.broker.Status) and the
-- reasons an enqueue is refused (R_DUPLICATE... from jq.broker.RefusalReason) are baked the same
-- way: no script spells one of its own.

-- Lua 5.1 (Redis, fakeredis) has a global unpack; newer Luas moved it into table.
local unpack = unpack or table.unpack

-- The server's clock in seconds, for a `now` the caller left out (compared within the script,
-- never returned: a reply would truncate it). A script may read TIME: Redis replicates what a
-- script writes, not the script.
local function server_now()
    local time = redis.call('TIME')
    local seconds = tonumber(time[1]) + tonumber(time[2]) / 1000000
    return seconds
end

-- A KEYS entry the caller forgot reads as nil, which Lua tables and ipairs() silently cut
-- short: refuse the call instead.
local function expect_keys(count)
    if #KEYS < count then
        return error('jq script called with ' .. #KEYS .. ' keys; it needs at least ' .. count)
    end
end

-- What `key` holds, as TYPE names it ('none' when it does not exist). A write that fails on a key
-- of the wrong type (WRONGTYPE) keeps what the script wrote before it (Redis does not roll a
-- script back): a script checks the keys it did not create itself before its first write.
local function type_of(key)
    return redis.call('TYPE', key)['ok']
end

-- Whether `key` is absent or holds a `kind` ('list', 'zset', 'set', 'hash'); and what it holds.
local function holds(key, kind)
    local found = type_of(key)
    return found == kind or found == 'none', found
end

-- Refuse the call, before anything is written, when one of `expected` ({key, kind, ...}; nil keys
-- skipped) holds something else than its kind: the error names the key.
local function expect_types(expected)
    for i = 1, #expected, 2 do
        local key = expected[i]
        if key then
            local fits, found = holds(key, expected[i + 1])
            if not fits then
                return error('WRONGTYPE key ' .. key .. ' holds a ' .. found .. ' where jq keeps a ' ..
                    expected[i + 1] .. '; nothing was written (delete or rename the key)')
            end
        end
    end
end

-- The id or name a key was built from (its template plus the name): callers send a key once,
-- as KEYS, rather than both the key and its name.
local function name_of(key, template)
    return string.sub(key, #template + 1)
end

-- ARGV is read front to back through a cursor so that variable-length parts (field pairs, id
-- lists) can follow each other; each list is preceded by its length, except a script's last
-- part, which may run to the end of ARGV (one argument less per call).
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

-- Every argument left, as one flat list (name, value pairs when the call ends with a mapping).
local function rest_of_args()
    local flat = {}
    for i = argn + 1, #ARGV do
        flat[#flat + 1] = ARGV[i]
    end
    argn = #ARGV
    return flat
end

-- HSET in slices: unpack() of a very long list would overflow Lua's C stack.
local function hset_flat(key, flat)
    for i = 1, #flat, 200 do
        redis.call('HSET', key, unpack(flat, i, math.min(i + 199, #flat)))
    end
end

-- The status in a record as HGETALL returns it (field, value, ...), or nil.
local function status_of(record)
    for i = 1, #record, 2 do
        if record[i] == F_STATUS then
            return record[i + 1]
        end
    end
    return nil
end

-- Field/value pairs followed by the status, as one new list for one HSET: the status comes last,
-- so it wins over a status among the fields.
local function with_status(flat, status)
    local pairs_and_status = {}
    for i = 1, #flat do
        pairs_and_status[i] = flat[i]
    end
    pairs_and_status[#flat + 1], pairs_and_status[#flat + 2] = F_STATUS, status
    return pairs_and_status
end

-- A wake key holds at most one token: a claimer blocked in BLPOP on it takes the token and runs
-- the claim script, which puts a token back while the queue still has ids for another claimer.
-- A token already there is left alone (pushing a second one would only be trimmed again).
local function wake(wake_key)
    if redis.call('EXISTS', wake_key) == 0 then
        redis.call('LPUSH', wake_key, '1')
    end
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
-- set of known queue names, however it got there (a caller that made it known already passes
-- no `known_key`).
local function push(known_key, queue_name, queue_key, wake_key, id, at_front)
    if at_front then
        redis.call('LPUSH', queue_key, id)
    else
        redis.call('RPUSH', queue_key, id)
    end
    if known_key then
        redis.call('SADD', known_key, queue_name)
    end
    wake(wake_key)
end

-- A job's record, results and dependency sets, which live and die together.
local function data_keys(id)
    return {K_JOB .. id, K_RESULTS .. id, K_DEPENDENTS .. id, K_DEPENDENCIES .. id}
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

-- expire_all for a job's data keys {record, results, dependents, dependency sets} whose record
-- was just written afresh (so it has no expiry yet): results and dependency sets usually do not
-- exist, and one EXISTS for the three spares three calls that would change nothing.
local function expire_fresh(keys, ms)
    if redis.call('EXISTS', keys[2], keys[3], keys[4]) > 0 then
        expire_all(keys, ms)
    elseif ms ~= '' then
        redis.call('PEXPIRE', keys[1], ms)
    end
end

-- A started job never expires: remove the expiry of its data keys, asking once whether any but
-- the record exists (usually none does).
local function persist_data(keys)
    redis.call('PERSIST', keys[1])
    if redis.call('EXISTS', keys[2], keys[3], keys[4]) > 0 then
        expire_all({keys[2], keys[3], keys[4]}, '')
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
local function keep_canceled(canceled_key, job_id, keys, ttl, now)
    if ttl == 0 then
        redis.call('DEL', unpack(keys))
    elseif ttl > 0 then
        redis.call('ZADD', canceled_key, string.format('%.17g', tonumber(now) + ttl), job_id)
        expire_all(keys, string.format('%d', ttl * 1000))
    else
        redis.call('ZADD', canceled_key, 'inf', job_id)
        expire_all(keys, '')
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

-- == Worker updates (jq.broker.WorkerUpdate) ==================================================
--
-- ARGV: w, w field/value pairs, k, k field/increment pairs; the worker's record is a KEYS entry.

local function next_worker_update(key)
    return {key = key, fields = next_pairs(), increments = next_pairs()}
end

-- Whether a worker's record exists, by key: asked once per script and key (finish_and_claim's two
-- updates name the same worker): nothing a script does between its check and its write removes
-- a worker's record.
local workers_live = {}

local function worker_exists(update)
    local live = workers_live[update.key]
    if live == nil then
        -- Something else than a hash is no worker's record: left alone, as an absent one.
        live = type_of(update.key) == 'hash'
        workers_live[update.key] = live
    end
    return live
end

-- HINCRBYFLOAT fails on a non-number, and a script that fails half way keeps what it wrote: a
-- script checks every increment of its updates (`updates[1..n]`, nil entries skipped, in the
-- order they will apply) against the value it will apply to before it writes anything, and
-- raises an error when one is not a number.
local function check_worker_updates(updates, n)
    local written = {}
    for u = 1, n do
        local update = updates[u]
        local seen = update and (written[update.key] or {})
        if update then
            written[update.key] = seen
            for i = 1, #update.fields, 2 do
                seen[update.fields[i]] = update.fields[i + 1]
            end
        end
        if update and #update.increments > 0 and worker_exists(update) then
            -- The values the increments apply to that no earlier write sets, read in one HMGET.
            local unseen = {}
            for i = 1, #update.increments, 2 do
                if seen[update.increments[i]] == nil then
                    unseen[#unseen + 1] = update.increments[i]
                end
            end
            local stored = {}
            if #unseen > 0 then
                local values = redis.call('HMGET', update.key, unpack(unseen))
                for i, name in ipairs(unseen) do
                    stored[name] = values[i]
                end
            end
            for i = 1, #update.increments, 2 do
                local name = update.increments[i]
                local value = seen[name]
                if value == nil then
                    value = stored[name]
                end
                if value and not tonumber(value) then
                    error('worker field ' .. name .. ' does not hold a number')
                end
                seen[name] = '0'
            end
        end
    end
end

-- Write an update's fields and (after a claim) the job the worker now runs, which wins over a
-- field of that name, in one HSET; then add its increments. Nothing when the record is gone: an
-- expired worker is not brought back.
local function apply_worker_update(update, current_job)
    if not worker_exists(update) then
        return
    end
    local fields = update.fields
    if current_job then
        fields[#fields + 1], fields[#fields + 2] = F_CURRENT_JOB, current_job
    end
    hset_flat(update.key, fields)
    for i = 1, #update.increments, 2 do
        redis.call('HINCRBYFLOAT', update.key, update.increments[i], update.increments[i + 1])
    end
end

-- == Requests: a call delivered twice applies once ==============================================
--
-- Every script call carries its caller's request identity: its last KEYS entry is the caller's
-- request key (K_REQUEST .. the caller's session, one per thread of a process) and its last ARGV
-- entry the call's number in that session, which only grows. The script records its reply there
-- under the number (REQUEST_TTL_MS); a copy of the same call (a re-send after a timeout, which
-- Redis may receive twice) gets the recorded reply and writes nothing, and a copy of a call older
-- than the session's last is refused. scripts.py puts these steps around each script's code.

-- A reply as text: t, f (false or nil), n<integer>:, s<length>:<bytes>, a<count>: then the
-- items. Only what a script reply holds: an integer, a string, false, a list of them. Built with
-- as few intermediate strings as can be: this runs on every call.
local function scalar_text(value)
    local kind = type(value)
    if kind == 'string' then
        return 's' .. #value .. ':' .. value
    elseif kind == 'number' then
        return 'n' .. string.format('%d', value) .. ':'
    end
    return value and 't' or 'f'
end

local function encode_reply(value)
    if type(value) ~= 'table' then
        return scalar_text(value)
    end
    local n = #value
    local parts = {'a' .. n .. ':'}
    for i = 1, n do
        parts[i + 1] = encode_reply(value[i])
    end
    return table.concat(parts)
end

-- The reply encoded at `at` in `text`, and where the text after it starts.
local function decode_reply(text, at)
    local kind = string.sub(text, at, at)
    if kind == 't' then
        return true, at + 1
    elseif kind == 'f' then
        return false, at + 1
    end
    local colon = string.find(text, ':', at + 1, true)
    local n = tonumber(string.sub(text, at + 1, colon - 1))
    if kind == 'n' then
        return n, colon + 1
    elseif kind == 's' then
        return string.sub(text, colon + 1, colon + n), colon + n + 1
    end
    local list, next_at = {}, colon + 1
    for i = 1, n do
        list[i], next_at = decode_reply(text, next_at)
    end
    return list, next_at
end

-- The reply of a claim recorded compactly (see record_reply), rebuilt from `text` at `at` and
-- the job's record as it is now. The recorded reply of a claim would be the job's whole
-- record, which every claim would encode and store for a repeat that almost never comes.
--
-- Why the record now gives the first reply: the reply is the record as it was before the claim
-- wrote, to which the caller adds the claim's fields and status 'started' itself. The record now
-- is that one with the claim's fields and status written on it, so the caller gets the same
-- record from it once the status is put back. Who else can change the record of a job claimed
-- by an execution whose worker has not learned of the claim yet? Not that worker; not its
-- heartbeat (it writes the worker's record) nor a lease renewal (the started registry's score,
-- for jobs the worker knows of); no expiry (a started job's record has none). Only these, which end the claim's ownership: maintenance ending it as
-- abandoned once its lease ran out (failed, or queued again and then claimed by another
-- execution), a user canceling or deleting it. The record must therefore still say 'started'
-- by this execution; if it does not, the claim is over and the repeat replies as if the claim
-- had found nothing (the worker must not run a job it no longer owns; it claims again). A user
-- saving other fields (job.meta) meanwhile is seen in the rebuilt record: the newer truth.
local function rebuilt_claim(text, at)
    local reply = {}
    if string.sub(text, at, at) == 'C' then
        reply[1], at = decode_reply(text, at + 1)
    else
        at = at + 1
    end
    local colon = string.find(text, ':', at, true)
    local index = tonumber(string.sub(text, at, colon - 1))
    at = colon + 1
    colon = string.find(text, ':', at, true)
    local job_id_end = colon + tonumber(string.sub(text, at, colon - 1))
    local job_id = string.sub(text, colon + 1, job_id_end)
    at = job_id_end + 1
    colon = string.find(text, ':', at, true)
    local execution_end = colon + tonumber(string.sub(text, at, colon - 1))
    local execution = string.sub(text, colon + 1, execution_end)
    local prior, extras_at = decode_reply(text, execution_end + 1)
    local extras = extras_at <= #text and decode_reply(text, extras_at)
    local record = redis.call('HGETALL', K_JOB .. job_id)
    local at_status, owner
    for i = 1, #record, 2 do
        if record[i] == F_STATUS then
            at_status = i
        elseif record[i] == F_EXECUTION then
            owner = record[i + 1]
        end
    end
    if not at_status or record[at_status + 1] ~= S_STARTED or owner ~= execution then
        if #reply == 0 then
            return false  -- a claim alone: as if it had found nothing
        end
        return reply
    end
    if prior then
        record[at_status + 1] = prior
    else
        -- It had no status: drop the pair (moving the last pair into its place).
        local last = #record - 1
        record[at_status], record[at_status + 1] = record[last], record[last + 1]
        record[last], record[last + 1] = nil, nil
    end
    -- The problems the claim met were the first attempt's to report: none now.
    local n = #reply
    reply[n + 1], reply[n + 2], reply[n + 3], reply[n + 4] = index, job_id, record, {}
    if extras then
        -- Which reservation it started, and those it made: as they were (a reservation that is
        -- over since is refused when its holder starts it or gives it back).
        reply[n + 5], reply[n + 6] = extras[1], extras[2]
    end
    return reply
end

-- {the recorded reply} when this call already ran, nil when it has not; an error (nothing
-- written) for a copy of a call older than the session's last.
local function recorded_reply(key, number)
    local stored = redis.call('GET', key)
    if not stored then
        return nil
    end
    local colon = string.find(stored, ':', 1, true)
    local last, this = tonumber(string.sub(stored, 1, colon - 1)), tonumber(number)
    if this == last then
        -- A write, so that a WAIT after this repeat covers the call it repeats on whatever
        -- connection it came: a connection's WAIT waits for the replication offset of its own
        -- last write, and a repeat that only read could be confirmed without the original.
        redis.call('PEXPIRE', key, REQUEST_TTL_MS)
        local kind = string.sub(stored, colon + 1, colon + 1)
        if kind == 'c' or kind == 'C' then
            return {rebuilt_claim(stored, colon + 1)}
        end
        return {(decode_reply(stored, colon + 1))}
    elseif this < last then
        return error('jq request ' .. number .. ' of ' .. key .. ' came after request ' .. last .. ': not run')
    end
    return nil
end

-- A claim whose fields carry an execution id is recorded compactly (see rebuilt_claim): 'c', or
-- 'C' and the encoded item before the claim's four (a finish-and-claim's moved, the list of a
-- transition_many's), then <queue index>:<length of the job id>:<job id><length of the execution
-- id>:<execution id>, then the status before the claim (encoded: 's'... or 'f' for none), then,
-- for a claim with reservations (reply.extras), its two last items encoded as one list. One
-- string built in one step.
local function record_reply(key, number, reply)
    local text
    if type(reply) == 'table' and reply.claimed_by then
        local n, execution, prior = #reply, reply.claimed_by, reply.prior_status
        local extras = ''
        if reply.extras then
            extras = encode_reply({reply[n - 1], reply[n]})
            n = n - 2
        end
        local job_id = reply[n - 2]
        text = (n == 5 and 'C' .. encode_reply(reply[1]) or 'c') .. reply[n - 3] .. ':' .. #job_id .. ':' .. job_id
            .. #execution .. ':' .. execution .. scalar_text(prior) .. extras
    else
        text = encode_reply(reply)
    end
    redis.call('SET', key, number .. ':' .. text, 'PX', REQUEST_TTL_MS)
end
