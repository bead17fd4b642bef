-- The cells where Spark and the chapter disagree: an emitted count that differs, or a
-- window closed under Spark's watermark that it never emitted. The first 20, in time order.
select make_timestamp(start_ms * 1000) as window_start, priority, chapter, spark, outcome
from spark_cells
where outcome = 'not emitted' or (outcome = 'emitted' and chapter is distinct from spark)
order by start_ms, priority
limit 20;
