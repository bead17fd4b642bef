-- Rows at each step of the flow, from the raw exports to the two lists.
select step, table_name, rows from (
    select 1 as ordinal, 'ERP export' as step, 'erp_raw' as table_name, count(*) as rows from erp_raw
    union all select 2, 'ERP, one typed row per product', 'erp_clean', count(*) from erp_clean
    union all select 3, 'web export', 'web_raw', count(*) from web_raw
    union all select 4, 'web, one product row per sku', 'web_clean', count(*) from web_clean
    union all select 5, 'link table', 'links_raw', count(*) from links_raw
    union all select 6, 'links with both ends', 'links_clean', count(*) from links_clean
    union all select 7, 'reconciled products', 'reconciled', count(*) from reconciled
    union all select 8, 'premium wines', 'premium', count(*) from premium
    union all select 9, 'ordinary wines', 'ordinary', count(*) from ordinary)
order by ordinal;
