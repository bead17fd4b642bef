-- The control that would have raised the alarm: run each morning over the previous day's
-- inserts, it counts the sales inserted for an earlier sale day. Any such sale is an alarm.
select cast(i.inserted_at as date) as inserted_on,
       cast(cast(i.inserted_at as date) + interval 1 day as date) as control_on,
       count(*) as inserted_sales,
       count(*) filter (where c.calendar_date < cast(i.inserted_at as date)) as late_sales,
       count(*) filter (where c.calendar_date < cast(i.inserted_at as date)) > 0 as is_alarm
from sale s
join calendar c using (date_id)
join sale_insertion i using (sale_id)
group by cast(i.inserted_at as date)
order by inserted_on;
