-- The month's figures: revenue, units, and the price statistics behind the premium split.
select t.total_revenue_eur,
       t.products,
       t.units_sold,
       round(s.mean_price_eur, 2) as mean_price_eur,
       round(s.sd_price_eur, 2) as sd_price_eur,
       round(s.threshold_eur, 2) as premium_threshold_eur,
       (select count(*) from premium) as premium_wines,
       (select count(*) from ordinary) as ordinary_wines
from revenue_total t, price_stats s;
