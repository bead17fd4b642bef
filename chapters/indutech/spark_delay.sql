-- The watermark delay Spark runs with: the whole disorder of the stream, as the tickets
-- themselves show it (the largest delay between a ticket's event time and its arrival),
-- rounded up to the minute. Spark's watermark then drops nothing it should count, however
-- its micro-batches cut the archive; `spark.rows_dropped` says whether that held.
select max(epoch_ms(arrival) - epoch_ms(created_at)) as largest_arrival_delay_ms,
       60000 * ceil(max(epoch_ms(arrival) - epoch_ms(created_at)) / 60000.0)::bigint as delay_ms
from read_parquet('raw/*/*.parquet');
