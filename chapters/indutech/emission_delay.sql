-- How long after a window's end its result came out, on the stream's own arrival clock:
-- the allowed lateness plus the wait for the slowest partition.
select round(quantile_cont(d, 0.5), 1) as median_s,
       round(quantile_cont(d, 0.95), 1) as p95_s,
       round(max(d), 1) as max_s
from (select distinct window_start, (epoch_ms(closed_at) - epoch_ms(window_end)) / 1000.0 as d
      from read_parquet('windows/*.parquet'));
