-- The run history the flow keeps in its database (durations are in `flow history`: wall
-- time is not reproducible, so the book leaves it out).
select run_id, task_id, status, attempts, rows_in, rows_out, gates_clear, gates_reported, gates_failed
from flow_history
order by run_id, rowid;
