-- Revenue per product: the ERP price times the units the web shop sold. Decimal arithmetic,
-- so the total is exact to the cent.
create or replace table revenue_per_product as
select product_id, sku, title, price_eur, total_sales, price_eur * total_sales as revenue_eur
from reconciled;

create or replace table revenue_total as
select sum(revenue_eur) as total_revenue_eur, count(*) as products, sum(total_sales) as units_sold
from revenue_per_product;
