-- The calendar's key is an Excel serial date: it must be the day count since 1899-12-30 of
-- the date it stands for, or every join on date_id silently moves sales to another day.
select count(*) as days,
       count(*) filter (where date_id <> calendar_date - date '1899-12-30') as mismatched_days,
       coalesce(string_agg(date_id || ' is not ' || calendar_date, ', ' order by date_id)
                    filter (where date_id <> calendar_date - date '1899-12-30'), '') as mismatches,
       min(calendar_date) as first_day,
       max(calendar_date) as last_day
from calendar;
