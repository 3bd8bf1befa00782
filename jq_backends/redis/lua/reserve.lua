-- reserve.lua: reserve jobs for a caller without starting them (Broker.reserve).
--
-- KEYS[2i - 1], KEYS[2i]: queue i and its reserved registry (i = 1..n, in the order the queues
--   are taken from)
-- ARGV: the lease deadline, then, to the end of ARGV, one execution id per job to reserve at most
-- Returns {queue index, job id, ...}, flat: for each job reserved, in order, its queue's index
-- (1-based) and its id. Raises an error (nothing written) when a queue or a reserved registry
-- holds the wrong type.
--
-- Atomically: takes ids off the front of the queues in order, dropping ids whose record is gone or
-- whose status is a known one other than 'queued', stopping at a record with no status or an
-- unknown one (it stays at the front, for a claim to take); writes the n-th execution id
-- (0-based) on the n-th job reserved and enters it in its queue's reserved registry scored lease
-- + n * RESERVATION_STEP. Statuses and expiries are left as they are. A queue's wake token is left
-- as it is (a queue emptied here costs a blocked claimer one spurious wake-up). Touches keys of
-- several jobs: Cluster needs one hash slot.

expect_keys(2)
local lease = next_arg()
local ids = rest_of_args()
local expected = {}
for i = 1, #KEYS - 1, 2 do
    local n = #expected
    expected[n + 1], expected[n + 2], expected[n + 3], expected[n + 4] = KEYS[i], 'list', KEYS[i + 1], 'zset'
end
expect_types(expected)
local reply, made = {}, {}
for i = 1, math.floor(#KEYS / 2) do
    local before = #made
    local going = reserve_from(KEYS[2 * i - 1], KEYS[2 * i], ids, lease, made)
    for m = before + 1, #made do
        local n = #reply
        reply[n + 1], reply[n + 2] = i, made[m]
    end
    if not going or #made >= #ids then
        break
    end
end
return reply
