-- finish_and_claim.lua: a transition, then a claim that never waits (Broker.finish_and_claim).
--
-- KEYS: the transition's keys (see transition.lua), then the claim's (see claim.lua): 3 per
--   queue, then the worker's record when the claim updates a worker
-- ARGV: the transition's arguments (with the count of its field pairs), then the claim's
-- Returns {moved (1 or 0)} when every queue was empty, else {moved, queue index, job id,
-- {field, value, ...}, problems} as claim.lua returns them (queue index 0: nothing claimed, but
-- problems to report). Raises an error (nothing written) when a
-- worker field to increment, of either part, holds no number.
--
-- Atomically: the transition exactly as transition.lua makes it (or its refusal, which writes
-- nothing), then the claim exactly as claim.lua makes it, whether or not the transition was
-- refused: a worker records one job's outcome and takes its next job in one round trip. Both
-- worker updates are checked before anything is written. Touches keys of several jobs:
-- Cluster needs one hash slot.

expect_keys(7)
-- The transition's parts by name (lib_transition.lua's next_transition: move, execution_id,
-- result, settlement, worker, edit...), its field pairs counted (not last); next_key is where the
-- claim's KEYS start, read as lib.lua's next_claim reads them (queues, lease, worker, fields).
local change = next_transition(false)
local claim = next_claim(change.next_key)
check_worker_updates({change.worker, claim.worker}, 2)
local moved = transition(change)
local claimed = claim_next(claim)
if claimed then
    table.insert(claimed, 1, moved)  -- {moved, index, job id, record, problems}, marked for Requests
    return claimed
end
return {moved}
