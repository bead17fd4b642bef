-- The late batches (the view `late_batches`, in sale_timeline.sql) in one row: how many there
-- are, the sales and revenue they hold, and the largest batch (most sales; on a tie, the
-- first by sale day, insertion day and user), which is the incident the chapter tells.
with biggest as (
    select * from late_batches order by sales desc, sold_on, inserted_on, inserted_by limit 1
)
select (select count(*) from late_batches) as batches,
       (select cast(coalesce(sum(sales), 0) as bigint) from late_batches) as sales,
       (select coalesce(sum(revenue_eur), 0) from late_batches) as revenue_eur,
       biggest.sold_on,
       biggest.inserted_on,
       biggest.inserted_by,
       biggest.first_inserted_at,
       biggest.last_inserted_at
from (select 1) as one
left join biggest on true;
