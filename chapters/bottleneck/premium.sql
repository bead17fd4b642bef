-- The price z-score over the reconciled products, with the population standard deviation
-- (ddof 0, stddev_pop): a wine is premium when z > ${z_threshold}, that is when its price is
-- above the mean plus ${z_threshold} standard deviations. The z-score is computed exactly
-- (double precision); price_stats rounds the statistics for display only.
create or replace table price_stats as
select cast(avg(price_eur) as decimal(12, 4)) as mean_price_eur,
       cast(stddev_pop(price_eur) as decimal(12, 4)) as sd_price_eur,
       cast(avg(price_eur) + ${z_threshold} * stddev_pop(price_eur) as decimal(12, 4)) as threshold_eur
from reconciled;

create or replace table priced as
select product_id, sku, title, price_eur,
       (price_eur - avg(price_eur) over ()) / stddev_pop(price_eur) over () as z_score
from reconciled;

create or replace table premium as
select product_id, sku, title, price_eur, z_score from priced where z_score > ${z_threshold};

create or replace table ordinary as
select product_id, sku, title, price_eur, z_score from priced where not (z_score > ${z_threshold});
