-- Batch recomputation over the archived raw tickets: each ticket counted in both of its
-- windows (starts at the two multiples of 30 s in (t − 60 s, t]), with no notion of
-- arrival, compared with the stream's windows plus its late counts. Integer milliseconds,
-- so no time zone enters. Every row returned is a disagreement.
with batch as (
    select w.start_ms, priority, count(*) as tickets
    from read_parquet('raw/*/*.parquet') r,
         unnest([(epoch_ms(r.created_at) // 30000) * 30000 - 30000,
                 (epoch_ms(r.created_at) // 30000) * 30000]) as w(start_ms)
    group by all),
stream as (
    select epoch_ms(window_start) as start_ms, priority, tickets
    from read_parquet('windows/*.parquet')),
late as (
    select epoch_ms(window_start) as start_ms, priority, late_tickets
    from read_parquet('late/*.parquet'))
select coalesce(b.start_ms, s.start_ms, l.start_ms) as start_ms,
       coalesce(b.priority, s.priority, l.priority) as priority,
       coalesce(b.tickets, 0) as batch,
       coalesce(s.tickets, 0) as stream,
       coalesce(l.late_tickets, 0) as late
from batch b
full join stream s on s.start_ms = b.start_ms and s.priority = b.priority
full join late l on l.start_ms = coalesce(b.start_ms, s.start_ms) and l.priority = coalesce(b.priority, s.priority)
where coalesce(b.tickets, 0) <> coalesce(s.tickets, 0) + coalesce(l.late_tickets, 0);
