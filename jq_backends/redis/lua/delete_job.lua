-- delete_job.lua: remove a job from some places and delete its data (Broker.delete_job).
--
-- KEYS[1] the job's record   KEYS[2] its results   KEYS[3] its dependents set
-- KEYS[4] its set of unmet dependencies, then, with a dependents policy, the set of known queue
--   names, then the places to remove the id from
-- ARGV: the mode: the dependents policy (POLICY_FINISHED | POLICY_FAILED | POLICY_VANISHED, or
--   POLICY_NONE), then FLAG_RELEASED when there are released fields; then with a policy its
--   settlement and now (see lib_transition.lua's next_settlement), with FLAG_RELEASED r, r
--   released field/value pairs; then one kind per place ('queue' or 'registry'), in the order of
--   the places' KEYS
-- Returns 1 when a record existed, else 0.
--
-- Atomically: removes the id from each place (LREM for a queue, ZREM for a registry); settles
-- the jobs waiting for it under the policy, as a transition would (released, left waiting, or
-- canceled down the chain; none: they are left as they are, for settle_orphans.lua); then deletes
-- the record, results and dependency sets; a job limited by a rate limit leaves its line and
-- frees its slot (a running one keeps it until its lease), admitting waiting jobs with the
-- released fields. A key of another type than jq keeps there is refused before the first
-- write, naming it. Touches keys of several jobs with a policy: Cluster needs one hash slot.

expect_keys(4)
local record_key, results_key, dependents_key, dependencies_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local first_place = 5  -- the first place's KEYS entry: after the known queues' when there is one
local mode = next_arg()
-- The parts settle_dependents reads, named as in a transition (lib_transition.lua's next_transition).
local t = {job_id = name_of(record_key, K_JOB), dependents_key = dependents_key}
local policy = string.sub(mode, 1, 1)
if policy ~= POLICY_NONE then
    t.known_key = KEYS[5]
    first_place = 6
    t.settlement = next_settlement(policy, true)
end
t.released_fields = string.sub(mode, 2, 2) == FLAG_RELEASED and next_pairs() or {}
-- Every key this call writes is checked before the first write (a place's kind comes in ARGV).
local kinds = {}
local expected = {record_key, 'hash', results_key, 'list', dependents_key, 'set', dependencies_key, 'set',
    t.known_key or false, 'set'}
for i = first_place, #KEYS do
    kinds[i] = next_arg()
    expected[#expected + 1], expected[#expected + 2] = KEYS[i], kinds[i] == 'queue' and 'list' or 'zset'
end
expect_types(expected)
local existed = redis.call('EXISTS', record_key)
local old = redis.call('HMGET', record_key, F_STATUS, F_ORIGIN, F_RATE_LIMIT_KEY, F_RATE_LIMIT_CONCURRENCY)
local limit, keep_until = limit_from(old[3], old[4]), nil
if limit and old[1] == S_STARTED and old[2] then
    -- A running job deleted keeps its rate-limit slot until its lease: its code may still run.
    keep_until = redis.call('ZSCORE', K_STARTED .. old[2], t.job_id) or nil
end
for i = first_place, #KEYS do
    if kinds[i] == 'queue' then
        redis.call('LREM', KEYS[i], 0, t.job_id)
    else
        redis.call('ZREM', KEYS[i], t.job_id)
    end
end
if t.settlement then
    settle_dependents(t)
end
redis.call('DEL', record_key, results_key, dependents_key, dependencies_key)
after_move(limit, t.job_id, old[1], nil, t.released_fields, keep_until)
return existed
