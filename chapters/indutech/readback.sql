-- The window files read back by DuckDB: rows, windows and tickets, as the stream wrote them.
select count(*) as rows,
       count(distinct window_start) as windows,
       sum(tickets) as tickets,
       min(window_start) as first_window,
       max(window_start) as last_window
from read_parquet('windows/*.parquet');
