-- Tickets per priority in the 1-minute windows starting on each 10-minute mark.
select strftime(window_start, '%d %H:%M') as window_utc, priority, tickets
from read_parquet('windows/*.parquet')
where epoch_ms(window_start) % 600000 = 0
order by window_start, priority;
