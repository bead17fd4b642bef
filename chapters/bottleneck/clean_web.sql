-- The web export lists every sku twice, once as the product and once as its image (an
-- `attachment` row whose total_sales may disagree); the product row is the truth. Rows
-- without a sku (blank rows, and products never given one) cannot be linked to anything.
-- Exact duplicates collapse to one row per sku.
create or replace table web_clean as
select sku,
       cast(total_sales as integer) as total_sales,
       post_title as title,
       post_name as slug,
       post_status as status,
       post_type
from web_raw
where sku is not null and post_type = 'product'
qualify row_number() over (partition by sku order by source_row) = 1;
