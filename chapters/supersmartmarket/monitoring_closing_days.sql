-- A control that needs no log: sales dated on a day the store was closed are suspect (a
-- batch stamped with its load date, or a wrong date key).
select c.calendar_date as sold_on,
       c.weekday,
       count(*) as sales
from sale s
join calendar c using (date_id)
where c.is_closing_day
group by c.calendar_date, c.weekday
order by sold_on;
