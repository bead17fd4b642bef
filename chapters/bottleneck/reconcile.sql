-- A product is reconciled when the ERP, the link table and the web shop all know it: its
-- price comes from the ERP, its sales from the web. What stays out is kept, by side, in
-- reconcile_orphans (the gates decide which orphans are acceptable).
create or replace table reconciled as
select e.product_id, w.sku, w.title, e.price_eur, w.total_sales, e.stock_quantity, e.stock_status, e.onsale_web
from erp_clean e
join links_clean l on l.product_id = e.product_id
join web_clean w on w.sku = l.sku;

create or replace table reconcile_orphans as
select 'web product without an ERP product' as side, w.sku as key, w.title as detail
from web_clean w where w.sku not in (select sku from reconciled)
union all
select 'link to a sku the web shop does not list', l.sku, cast(l.product_id as varchar)
from links_clean l where l.sku not in (select sku from web_clean)
union all
select 'ERP product without a web sku', cast(e.product_id as varchar), cast(e.onsale_web as varchar)
from erp_clean e where e.product_id not in (select product_id from links_clean)
union all
select 'ERP product linked to a sku the web shop does not list', cast(e.product_id as varchar), l.sku
from erp_clean e join links_clean l on l.product_id = e.product_id
where l.sku not in (select sku from web_clean);
