-- The premium wines, most expensive first.
select product_id, sku, title, price_eur, round(z_score, 2) as z_score
from premium
order by price_eur desc, product_id;
