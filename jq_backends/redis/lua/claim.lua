-- claim.lua: take the next job from the first of several queues that has one (Broker.claim).
--
-- KEYS, ARGV: the claim's, as lib_claim.lua's Claim section lays them out: 3 keys per queue (4
--   with reservations), in the order the queues are tried, then the worker's record when the
--   claim updates a worker; the lease, the caller's reservations, the ids to reserve, the worker
--   update, then the job's field/value pairs
-- Returns {queue index i (1-based), job id, {field, value, ...} (the record as it was before the
-- claim wrote: the caller adds the fields it sent and status 'started'), problems}, then, with
-- reservations, the position of the reservation started (0: none) and the ids of the jobs
-- reserved; or false (nil to the caller) when every queue is
-- empty; {0, '', {}, problems} when every queue is empty and there were problems: {what, queue
-- index, key or job id, what it holds, ...} for each queue skipped because its list or one of
-- its registries holds the wrong type ('queue', 'registry') and each id dropped because its job
-- key is not a hash ('job'); see lib_claim.lua's claim_next.
-- Raises an error (nothing written) when a worker field to increment holds no number.
--
-- Atomically: starts the first reservation of the caller still held of the first queue that has
-- one (see Broker.claim), else pops ids from the queues in order, dropping ids whose record is gone (expired) or
-- whose status is a known one other than 'queued' (a missing or unknown status is claimed);
-- writes the fields and status 'started' on the first good one,
-- removes its expiry and that of its results and dependency sets (a started job never
-- expires), enters it in the started registry under the lease, leaves each queue's wake token
-- matching whether the queue still holds ids, and updates the worker's record (if it exists)
-- with the fields, the increments and the claimed job's id. Touches keys of several jobs (every
-- dropped id's record): Cluster needs one hash slot.

expect_keys(3)
-- {first = 1, queues = n, lease = the deadline, worker = the update or nil, fields = the pairs}
local claim = next_claim(1)
check_worker_updates({claim.worker}, 1)
return claim_next(claim) or false
