-- The late batches in one row: how many there are, the sales and revenue they hold, and the
-- largest batch (most sales; on a tie, the first by sale day, insertion day and user), which
-- is the incident the chapter tells. Every batch is in the `late_batch` table.
with batches as (
    select sold_on,
           cast(inserted_at as date) as inserted_on,
           inserted_by,
           count(*) as sales,
           sum(sale_price_eur) as revenue_eur,
           min(inserted_at) as first_inserted_at,
           max(inserted_at) as last_inserted_at
    from sale_priced
    where cast(inserted_at as date) > sold_on
    group by sold_on, cast(inserted_at as date), inserted_by
),
biggest as (
    select * from batches order by sales desc, sold_on, inserted_on, inserted_by limit 1
)
select (select count(*) from batches) as batches,
       (select cast(coalesce(sum(sales), 0) as bigint) from batches) as sales,
       (select coalesce(sum(revenue_eur), 0) from batches) as revenue_eur,
       biggest.sold_on,
       biggest.inserted_on,
       biggest.inserted_by,
       biggest.first_inserted_at,
       biggest.last_inserted_at
from (select 1) as one
left join biggest on true;
