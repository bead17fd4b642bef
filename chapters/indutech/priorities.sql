-- Per priority: tickets archived, late tickets, and the busiest 1-minute window.
with raw as (select priority, count(*) as tickets from read_parquet('raw/*/*.parquet') group by priority),
     late as (select priority, cast(sum(late_tickets) as bigint) as late_window_counts from read_parquet('late/*.parquet') group by priority),
     peak as (select priority, max(tickets) as busiest_window from read_parquet('windows/*.parquet') group by priority)
select raw.priority, raw.tickets, coalesce(late.late_window_counts, 0) as late_window_counts, peak.busiest_window
from raw left join late using (priority) left join peak using (priority)
order by case raw.priority when 'Basse' then 1 when 'Moyenne' then 2 when 'Haute' then 3 else 4 end;
