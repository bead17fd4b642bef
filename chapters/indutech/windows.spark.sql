-- The chapter's windows on Spark Structured Streaming: over the stream `tickets` (the raw
-- archive, read as a file source with the watermark on created_at), each ticket counted in
-- the 1-minute windows sliding every 30 s that hold it, per priority. Appended to Parquet as
-- each window closes under Spark's watermark.
select window(created_at, '1 minute', '30 seconds').start as window_start,
       window(created_at, '1 minute', '30 seconds').end as window_end,
       priority,
       count(*) as tickets
from tickets
group by window(created_at, '1 minute', '30 seconds'), priority
