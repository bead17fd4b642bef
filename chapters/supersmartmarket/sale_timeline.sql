-- What the insertion log tells about each sale: when it became visible, and the price it
-- was sold at. The export keeps only today's price; the log keeps every change.

-- Every price update, parsed from its detail "old -> new".
create view price_change as
select cast(row_id as bigint) as product_id,
       logged_at as changed_at,
       cast(trim(split_part(detail, '->', 1)) as decimal(10, 2)) as old_price_eur,
       cast(trim(split_part(detail, '->', 2)) as decimal(10, 2)) as new_price_eur
from insertion_log
where action = 'UPDATE' and table_name = 'Dim_Produit' and field = 'Prix';

-- The moment each sale was inserted: its INSERT rows in the log.
create view sale_insertion as
select cast(row_id as bigint) as sale_id,
       min(logged_at) as inserted_at,
       min(user_id) as inserted_by
from insertion_log
where action = 'INSERT' and table_name = 'Fact_vente'
group by row_id;

-- Each sale with today's price (what the dashboard multiplies by) and its sale-time price:
-- the price in force at the close of its sale day, i.e. the old price of the first update
-- after that close, or today's price when the product has not been updated since.
create view sale_priced as
with sale_day as (
    select s.sale_id, s.product_id, c.calendar_date as sold_on,
           cast(c.calendar_date + interval 1 day as timestamp) as day_closed_at
    from sale s
    join calendar c using (date_id)
)
select d.sale_id,
       d.product_id,
       d.sold_on,
       i.inserted_at,
       i.inserted_by,
       p.price_eur as current_price_eur,
       coalesce(pc.old_price_eur, p.price_eur) as sale_price_eur
from sale_day d
join product p using (product_id)
left join sale_insertion i using (sale_id)
asof left join price_change pc
    on d.product_id = pc.product_id and d.day_closed_at <= pc.changed_at;

-- The day under audit: the one with the most sales inserted after their sale day (ties and
-- a log without late sales fall back to the day whose revenue drifted most with prices).
create view audit_day as
select sold_on as audit_day
from sale_priced
group by sold_on
order by count(*) filter (where cast(inserted_at as date) > sold_on) desc,
         abs(sum(current_price_eur - sale_price_eur)) desc,
         sold_on
limit 1;

-- Sales inserted on a later day than the day they were sold, grouped into batches by sale
-- day, insertion day and the user who inserted them. The `late_batch` table shows every
-- batch; `late_batch_summary` counts them and names the largest.
create view late_batches as
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
group by sold_on, cast(inserted_at as date), inserted_by;
