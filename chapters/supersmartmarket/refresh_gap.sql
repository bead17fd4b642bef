-- The audited day D seen by two dashboard refreshes, and the gap between them split into
-- its two causes. R1: the end of day D, before the late load and the price updates.
-- R2: today, after both. Each side is computed its own way, so the split can fail to add up.
with d as (
    select audit_day, cast(audit_day + interval 1 day as timestamp) as r1_at
    from audit_day
),
-- Prices at R1: today's price rolled back through every update made at or after R1.
price_at_r1 as (
    select p.product_id,
           p.price_eur - coalesce(sum(pc.new_price_eur - pc.old_price_eur), 0) as price_eur
    from product p
    cross join d
    left join price_change pc on pc.product_id = p.product_id and pc.changed_at >= d.r1_at
    group by p.product_id, p.price_eur
),
-- R1 as the dashboard showed it: the sales of D inserted before R1, at R1's prices.
r1 as (
    select sum(pr.price_eur) as revenue_eur
    from sale s
    join calendar c using (date_id)
    join sale_insertion i using (sale_id)
    join price_at_r1 pr using (product_id)
    cross join d
    where c.calendar_date = d.audit_day and i.inserted_at < d.r1_at
),
-- R2 as the dashboard shows it today: every sale of D at today's price, no log involved.
r2 as (
    select sum(p.price_eur) as revenue_eur
    from sale s
    join calendar c using (date_id)
    join product p using (product_id)
    cross join d
    where c.calendar_date = d.audit_day
),
-- (a) the late batch at sale-time prices; (b) the price effect over every sale of D.
parts as (
    select coalesce(sum(sale_price_eur) filter (where inserted_at >= d.r1_at), 0) as late_batch_eur,
           coalesce(sum(current_price_eur - sale_price_eur), 0) as price_effect_eur
    from sale_priced
    cross join d
    where sold_on = d.audit_day
)
select d.audit_day,
       coalesce(r1.revenue_eur, 0) as r1_revenue_eur,
       r2.revenue_eur as r2_revenue_eur,
       r2.revenue_eur - coalesce(r1.revenue_eur, 0) as gap_eur,
       parts.late_batch_eur,
       parts.price_effect_eur,
       r2.revenue_eur - coalesce(r1.revenue_eur, 0) - parts.late_batch_eur - parts.price_effect_eur as residual_eur,
       -- whether the store traded the day after D (the prose says so only when it did not)
       coalesce((select c.is_closing_day from calendar c
                 where c.calendar_date = d.audit_day + interval 1 day), false) as next_day_closed
from d, r1, r2, parts;
