-- lib_history.lua: counting a transition's tally in its queue's history (jq.broker.history), in
-- the transition's own script: the history costs no round trip. A library like lib.lua, whose
-- definitions it uses: scripts.py prepends what a script needs of the library files.
--
-- The fields and times are those jq.broker.history defines, from its constants: H_KNOWN ('k:'),
-- H_SUM ('s:'), H_COUNT ('#'), H_OTHER, H_FUNCTIONS_KEPT, and each resolution's step, span and
-- how long it is kept (H_MINUTE_STEP, H_MINUTES_SPAN, H_MINUTES_KEPT; H_HOUR_...). A tally adds
-- one to one field of each record (its outcome and run-time bucket together) and its run time
-- to the sum: four writes in all, once the function is known. It is one function, its parts
-- one table, on purpose: every closure and table is made again on every call of the script.

-- A tally (FLAG_TALLY), its keys from KEYS[k], as a list: the queue's totals, its counts per
-- minute of the tally's hour and per hour of its day; then its arguments: the function, the code
-- of the fields it adds to (jq.broker.Tally.code), its run time in microseconds ('' without one),
-- and when it ended (whole seconds by the store's clock, which the keys were built from).
local function next_tally(k)
    local fn, code, microseconds, at = next_arg(), next_arg(), next_arg(), next_arg()
    return {KEYS[k], KEYS[k + 1], KEYS[k + 2], fn, code, microseconds, tonumber(at)}
end

-- Count tally `t` (see next_tally): in the totals, under the function's own name while the queue
-- counts fewer than H_FUNCTIONS_KEPT functions by name (it then joins them; a function counted
-- once has its H_KNOWN field, looked for only at the first count of a field), else H_OTHER, with
-- its run time in the sum; then in the bucket that holds its time in the counts of its minute
-- and of its hour (a record is given its expiry when it is made: its first count is a field's
-- first). A key of the wrong type is left out, and the server's log says so: the history never
-- fails the transition that carries it (bad data is contained).
local function count_tally(t)
    local totals, fn, code, microseconds, at = t[1], t[4], t[5], t[6], t[7]
    local field = code .. ':' .. fn
    -- Increments are written as text: a Lua number passed to redis.call is formatted with
    -- snprintf('%.17g') on every call.
    local count = redis.pcall('HINCRBY', totals, field, '1')
    if type(count) == 'table' then
        redis.log(redis.LOG_WARNING, 'jq left a tally out of ' .. totals .. ': ' .. tostring(count.err))
    else
        if count == 1 and redis.call('HSETNX', totals, H_KNOWN .. fn, '1') == 1 and
                redis.call('HINCRBY', totals, H_COUNT, '1') > H_FUNCTIONS_KEPT then
            redis.call('HDEL', totals, field, H_KNOWN .. fn)
            redis.call('HINCRBY', totals, H_COUNT, '-1')
            fn = H_OTHER
            field = code .. ':' .. fn
            redis.call('HINCRBY', totals, field, '1')
        end
        if microseconds ~= '' then
            redis.call('HINCRBY', totals, H_SUM .. fn, microseconds)
        end
    end
    local step, span, kept = H_MINUTE_STEP, H_MINUTES_SPAN, H_MINUTES_KEPT
    for i = 2, 3 do
        if i == 3 then
            step, span, kept = H_HOUR_STEP, H_HOURS_SPAN, H_HOURS_KEPT
        end
        local key, into = t[i], at % span
        -- (string.format's %d: a number joined to a string is formatted by '%.14g', slower.)
        count = redis.pcall('HINCRBY', key, string.format('%d:', (into - into % step) / step) .. field, '1')
        if type(count) == 'table' then
            redis.log(redis.LOG_WARNING, 'jq left a tally out of ' .. key .. ': ' .. tostring(count.err))
        elseif count == 1 then
            redis.call('EXPIREAT', key, at - into + span + kept)
        end
    end
end
