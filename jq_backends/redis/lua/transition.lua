-- transition.lua: move a job between places and update its record (Broker.transition).
--
-- KEYS: the job's record, results, dependents set and set of unmet dependencies, then the
--   source, target, wake, known-queues and worker keys that the mode calls for
-- ARGV: the mode, the parts it calls for, then, to the end of ARGV, field/value pairs to write
-- (both laid out in lib_transition.lua)
-- Returns 1, or 0 when refused (record missing, execution mismatch, job not in the source);
-- a refusal writes nothing. Raises an error (nothing written) when a worker field to increment
-- holds no number.
--
-- Atomically: every check comes before the first write; then target, fields, result, its own
-- dependencies left (when asked), dependents (released, left waiting, or canceled with their own
-- dependents in turn, down the chain), expiry (shared by the record, its results and dependency
-- sets), and the worker's record (if it exists). A queue a job goes to becomes known. Touches keys of several jobs (its dependents,
-- theirs, and their queues): Cluster needs one hash slot.

expect_keys(4)
-- The parts by name, as jq.broker.Transition's (lib_transition.lua's next_transition: move,
-- execution_id, result, settlement, released_fields, worker, edit...); the field pairs run to
-- the end of ARGV.
local change = next_transition(true)
check_worker_updates({change.worker}, 1)
return transition(change)
