-- enqueue.lua: store one job record and place it according to its dependencies (Broker.enqueue).
--
-- KEYS: the request's keys, ARGV: its arguments, its fields running to the end of ARGV (both
--   laid out at the top of lib_enqueue.lua)
-- Returns {status written}, or {'', reason} when refused (then nothing was written); reason is
-- 'duplicate', 'already' or 'cycle'.
--
-- Atomically, in the contract's order: the refusals (every check before the first write); the
-- marker; the replaced job taken out of its old place and its old dependencies' dependents; the
-- queue made known; then the record with its status, placed in the deferred or scheduled
-- registry or in the queue (see lib_enqueue.lua's enqueue_write).
-- Touches keys of several jobs (the dependencies, and every job the cycle check walks through):
-- on Redis Cluster all of them must share one hash slot, which a prefix with a hash tag (e.g.
-- '{jq}:') gives.

-- The request by name (lib_enqueue.lua's next_enqueue: job_id, record, queue_key, flags as
-- at_front, unique..., depends_on, fields...), its KEYS from KEYS[1], its fields to the end of ARGV.
local request = next_enqueue(1, true)
local refusal = enqueue_refusal(request, new_batch())
if refusal then
    return refusal
end
return {enqueue_write(request, nil)}
