-- Sales inserted on a later day than the day they were sold, grouped into batches by sale
-- day, insertion day and the user who inserted them.
select sold_on,
       cast(inserted_at as date) as inserted_on,
       inserted_by,
       count(*) as sales,
       sum(sale_price_eur) as revenue_eur,
       min(inserted_at) as first_inserted_at,
       max(inserted_at) as last_inserted_at,
       min(sale_id) as first_sale_id,
       max(sale_id) as last_sale_id
from sale_priced
where cast(inserted_at as date) > sold_on
group by sold_on, cast(inserted_at as date), inserted_by
order by sold_on, inserted_on, inserted_by;
