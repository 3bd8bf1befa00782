-- delete_job.lua: remove a job from some places and delete its data (Broker.delete_job).
--
-- KEYS[1] the job's record   KEYS[2] its results   KEYS[3] its dependents set
-- KEYS[4] its set of unmet dependencies   KEYS[5..] the places to remove the id from
-- ARGV: one kind per place ('queue' or 'registry'), in the order of KEYS[5..]
-- Returns 1 when a record existed, else 0.
--
-- Atomically: removes the id from each place (LREM for a queue, ZREM for a registry) and deletes
-- the record, results and dependency sets. Jobs depending on this one are left as they are.

expect_keys(4)
local job_id = name_of(KEYS[1], K_JOB)
local existed = redis.call('EXISTS', KEYS[1])
for i = 5, #KEYS do
    if ARGV[i - 4] == 'queue' then
        redis.call('LREM', KEYS[i], 0, job_id)
    else
        redis.call('ZREM', KEYS[i], job_id)
    end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return existed
