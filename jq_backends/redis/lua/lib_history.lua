-- lib_history.lua: counting a transition's tally in its queue's history (jq.broker.history), in
-- the transition's own script: the history costs no round trip. A library like lib.lua, whose
-- definitions it uses: scripts.py prepends what a script needs of the library files.
--
-- The fields are those jq.broker.history names, from its constants: H_KNOWN ('k:'), H_SUM
-- ('s:'), H_RUN_TIME ('b'), H_COUNT ('#'), H_OTHER and H_FUNCTIONS_KEPT. The caller computes
-- every time (the store's clock as the driver follows it): which records count the tally, the
-- bucket offsets within them and when they expire.

-- A tally (FLAG_TALLY), its keys from KEYS[k]: the queue's totals, its counts per minute of this
-- hour and per hour of this day; its arguments: the function, the outcome's code ('f', 'x',
-- 'r'), the run-time bucket and the run time ('' and '' without one), the minute's offset in the
-- hour and the hour's offset in the day, and when each of the two records of counts expires
-- (Unix seconds).
local function next_tally(k)
    local fn, code, bucket, run_time = next_arg(), next_arg(), next_arg(), next_arg()
    local minute, hour, minutes_until, hours_until = next_arg(), next_arg(), next_arg(), next_arg()
    return {totals = KEYS[k], minutes = KEYS[k + 1], hours = KEYS[k + 2], fn = fn, code = code,
        bucket = bucket ~= '' and bucket or nil, run_time = run_time, minute = minute, hour = hour,
        minutes_until = minutes_until, hours_until = hours_until}
end

-- HINCRBY that tells a key of the wrong type (nil) from a count: the history never fails the
-- transition that carries it (bad data is contained), and the server's log says what was left out.
local function count_once(key, field)
    local count = redis.pcall('HINCRBY', key, field, 1)
    if type(count) == 'table' then
        redis.log(redis.LOG_WARNING, 'jq left a tally out of ' .. key .. ': ' .. tostring(count.err))
        return nil
    end
    return count
end

-- The outcome counted in the totals, and the name the function is counted under there: its own
-- while the queue counts fewer than H_FUNCTIONS_KEPT functions by name (it then joins them),
-- else H_OTHER. (A function counted once has its H_KNOWN field; the first count of an outcome is
-- the only moment to look for it.)
local function count_total(t)
    local fn, field = t.fn, t.code .. ':' .. t.fn
    local count = count_once(t.totals, field)
    if count ~= 1 or redis.call('HSETNX', t.totals, H_KNOWN .. fn, '1') == 0 then
        return count and fn
    end
    if redis.call('HINCRBY', t.totals, H_COUNT, 1) > H_FUNCTIONS_KEPT then
        redis.call('HDEL', t.totals, field, H_KNOWN .. fn)
        redis.call('HINCRBY', t.totals, H_COUNT, -1)
        fn = H_OTHER
        redis.call('HINCRBY', t.totals, t.code .. ':' .. fn, 1)
    end
    return fn
end

-- One count in a record of counts: the outcome in bucket `offset`, and the run time's bucket
-- (`timed`, a field name without the offset, or nil). A record is given its expiry when it is
-- made (its first count is always a first outcome count), after its last write: a time already
-- past deletes it at once.
local function count_in(key, offset, field, timed, expires_at)
    local count = count_once(key, offset .. ':' .. field)
    if count and timed then
        redis.call('HINCRBY', key, offset .. ':' .. timed, 1)
    end
    if count == 1 then
        redis.call('EXPIREAT', key, expires_at)
    end
end

-- Count tally `t` (see next_tally) in the totals, with its run time in the histogram and the
-- sum, and in the counts of this minute and of this hour.
local function count_tally(t)
    local fn = count_total(t)
    local timed = nil
    if t.bucket then
        timed = H_RUN_TIME .. t.bucket .. ':' .. (fn or t.fn)
        if fn then
            redis.call('HINCRBY', t.totals, timed, 1)
            redis.call('HINCRBYFLOAT', t.totals, H_SUM .. fn, t.run_time)
        end
    end
    local field = t.code .. ':' .. (fn or t.fn)
    count_in(t.minutes, t.minute, field, timed, t.minutes_until)
    count_in(t.hours, t.hour, field, timed, t.hours_until)
end
