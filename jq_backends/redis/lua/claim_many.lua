-- claim_many.lua: several claims that never wait, one after the other (Broker.claim_many).
--
-- KEYS: the claim's, as lib_claim.lua's Claim section lays them out for a plain claim (3 keys per
--   queue, in the order the queues are tried, then the worker's record when the claim updates a
--   worker)
-- ARGV: list_field (the worker field listing ids, '' for none), the number n of jobs to claim and
--   their n execution ids, then the claim's (lease, the worker update, the field/value pairs)
-- Returns {{queue index, job id, {field, value, ...}, problems}, ...}: one claim reply (see
-- claim.lua) per job claimed, in order; a last {0, '', {}, problems} when a claim found no job
-- but problems to report. Raises an error (nothing written) when a worker field to increment
-- holds no number.
--
-- Atomically: up to n claims exactly as claim.lua makes them, the k-th writing the claim's
-- fields with the k-th execution id, stopping at the first that finds every queue empty; then
-- the worker update, once, with the last job claimed as its current job and, with list_field,
-- the ids of the jobs claimed before it appended to that field's value in the update. Touches
-- keys of several jobs: Cluster needs one hash slot.

expect_keys(3)
local list_field = next_arg()
local executions = next_list()
local claim = next_claim(1)
check_worker_updates({claim.worker}, 1)
local worker = claim.worker
claim.worker = nil  -- applied once, below
local fields = claim.fields
local at = nil
for i = 1, #fields, 2 do
    if fields[i] == F_EXECUTION then
        at = i + 1
    end
end
if not at then
    fields[#fields + 1] = F_EXECUTION
    at = #fields + 1
end
local replies, ids = {}, {}
for n = 1, #executions do
    fields[at] = executions[n]
    local reply = claim_next(claim)
    if not reply then
        break
    end
    replies[n] = {reply[1], reply[2], reply[3], reply[4]}
    if reply[1] == 0 then
        break  -- nothing claimed, problems to report
    end
    ids[#ids + 1] = reply[2]
    claim.problems = {}  -- each reported once
end
if worker and #ids > 0 then
    if list_field ~= '' and #ids > 1 then
        local before = table.concat(ids, ',', 1, #ids - 1)
        local listed = false
        for i = 1, #worker.fields, 2 do
            if worker.fields[i] == list_field then
                local value = worker.fields[i + 1]
                worker.fields[i + 1] = value == '' and before or value .. ',' .. before
                listed = true
            end
        end
        if not listed then
            worker.fields[#worker.fields + 1], worker.fields[#worker.fields + 2] = list_field, before
        end
    end
    apply_worker_update(worker, ids[#ids])
end
return replies
