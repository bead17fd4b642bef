-- The ten products that brought the most revenue.
select product_id, sku, title, price_eur, total_sales, revenue_eur
from revenue_per_product
order by revenue_eur desc, product_id
limit 10;
