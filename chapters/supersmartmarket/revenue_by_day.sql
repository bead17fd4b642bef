-- Each day's revenue as the dashboard computes it (today's prices) beside the revenue at the
-- prices the sales were made at, and the sales inserted after their day.
select sold_on,
       count(*) as sales,
       count(*) filter (where cast(inserted_at as date) > sold_on) as late_sales,
       sum(current_price_eur) as dashboard_revenue_eur,
       sum(sale_price_eur) as sale_time_revenue_eur,
       sum(current_price_eur) - sum(sale_price_eur) as price_drift_eur
from sale_priced
group by sold_on
order by sold_on;
