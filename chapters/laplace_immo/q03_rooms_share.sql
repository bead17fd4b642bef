-- Q3. Share of apartment sales by number of rooms.
with by_rooms as (
    select rooms, count(*) as sales
    from sale_facts
    where property_type = 'Appartement'
    group by rooms
)
select rooms,
       sales,
       round(100.0 * sales / sum(sales) over (), 2) as share_pct
from by_rooms
order by rooms;
