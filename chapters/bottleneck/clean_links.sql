-- A link needs both ends: an ERP product_id and a web sku (id_web). The sku stays text:
-- most are numbers, but gift cards and variants are not ('bon-cadeau-25-euros', '13127-1').
create or replace table links_clean as
select cast(product_id as integer) as product_id,
       id_web as sku
from links_raw
where product_id is not null and id_web is not null
qualify row_number() over (partition by product_id order by source_row) = 1;
