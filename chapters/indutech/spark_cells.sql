-- Every (window, priority) cell on both sides: the chapter's stream count plus its late count
-- (which together equal the batch recomputation, see batch_check.sql) beside what Spark
-- emitted. Spark emits a window once its watermark passes the window's end; a window still
-- open when its input ended is not emitted, so it is counted apart, never as missing.
create temporary view spark_cells as
with chapter as (
    select coalesce(s.start_ms, l.start_ms) as start_ms,
           coalesce(s.priority, l.priority) as priority,
           coalesce(s.tickets, 0) + coalesce(l.late_tickets, 0) as tickets
    from (select epoch_ms(window_start) as start_ms, priority, tickets
          from read_parquet('windows/*.parquet')) s
    full join (select epoch_ms(window_start) as start_ms, priority, late_tickets
               from read_parquet('late/*.parquet')) l
      on l.start_ms = s.start_ms and l.priority = s.priority
    -- A window the stream emitted with no ticket of a priority is no cell: Spark, counting
    -- rows, has none to emit.
    where coalesce(s.tickets, 0) + coalesce(l.late_tickets, 0) > 0)
select coalesce(c.start_ms, k.start_ms) as start_ms,
       coalesce(c.priority, k.priority) as priority,
       c.tickets as chapter,
       k.tickets as spark,
       case when k.tickets is not null then 'emitted'
            when c.start_ms + 60000 > getvariable('spark_watermark_ms') then 'open at the end'
            else 'not emitted' end as outcome
from chapter c
full join spark_windows k on k.start_ms = c.start_ms and k.priority = c.priority;
