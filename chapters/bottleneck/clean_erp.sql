-- One typed row per product (the first when the export repeats one). Nothing is corrected
-- here: a negative price or stock, or a stock status that contradicts the quantity, is the
-- ERP's data and is fixed there; erp_anomalies lists each such product once, with the first
-- anomaly found, for the merchant.
create or replace table erp_clean as
select cast(product_id as integer) as product_id,
       cast(onsale_web as integer) = 1 as onsale_web,
       cast(price as decimal(10, 2)) as price_eur,
       cast(stock_quantity as integer) as stock_quantity,
       stock_status
from erp_raw
where product_id is not null
qualify row_number() over (partition by product_id order by source_row) = 1;

create or replace table erp_anomalies as
select product_id, price_eur, stock_quantity, stock_status, anomaly
from (
    select *,
           case when price_eur < 0 then 'negative price'
                when stock_quantity < 0 then 'negative stock'
                when stock_status = 'instock' and stock_quantity = 0 then 'in stock with no quantity'
                when stock_status = 'outofstock' and stock_quantity > 0 then 'out of stock with a quantity'
           end as anomaly
    from erp_clean)
where anomaly is not null;
