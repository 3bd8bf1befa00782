-- transition_many.lua: several transitions, then maybe a claim that never waits
-- (Broker.transition_many).
--
-- KEYS: each transition's keys in turn (see transition.lua), then, with a claim, the claim's (see
--   lib_claim.lua)
-- ARGV: the number of transitions, '1' when a claim follows (else '0'), then each transition's
--   arguments (its field pairs counted), then the claim's
-- Returns {{moved (1 or 0), ...}} without a claim or when every queue was empty, else {{moved,
-- ...}, queue index, job id, {field, value, ...}, problems, ...} with the claim's reply as
-- claim.lua returns it (queue index 0: nothing claimed, but problems to report). The claim is the
-- one script's that may have reservations (see lib_claim.lua): the Redis driver sends every claim
-- with reservations here, with no transition or with the one it rides on. Raises an error
-- (nothing written) when a key one of them writes holds the wrong type, or a worker field to
-- increment holds no number.
--
-- Atomically: every check of every part first; then each transition exactly as transition.lua
-- makes it (or its refusal, which writes nothing and does not stop the others), in order, each
-- seeing the ones before it; then the claim exactly as claim.lua makes it, whatever the
-- transitions did. Touches keys of several jobs: Cluster needs one hash slot.

expect_keys(4)
local count = tonumber(next_arg())
local with_claim = next_arg() == '1'
local changes, updates = {}, {}
local base = 0
for i = 1, count do
    local change = next_transition(false, base)
    changes[i], updates[i] = change, change.worker or false
    base = change.next_key - 1
end
local claim = with_claim and next_claim(base + 1)
if claim then
    updates[count + 1] = claim.worker or false
end
check_worker_updates(updates, count + 1)
-- A later part's key of the wrong type must not fail the call after an earlier part wrote.
for i = 1, count do
    check_transition(changes[i])
    changes[i].checked = true
end
local moved = {}
for i = 1, count do
    moved[i] = transition(changes[i])
end
local claimed = claim and claim_next(claim, reserving)
if claimed then
    table.insert(claimed, 1, moved)  -- {moved, index, job id, record, problems, ...}, marked for Requests
    return claimed
end
return {moved}
