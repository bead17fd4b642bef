-- What the model holds, counted from its own tables, not from the checked staging rows: with
-- the rows rejected with a reason it must account for every row read. A load that drops rows
-- without a reason shows here, with the first rows it lost.
select (select count(*) from sale) as sales_loaded,
       (select count(*) from sale where value_eur is null) as sales_without_value,
       (select count(*) from commune_population) as populations_loaded,
       (select coalesce(string_agg(cast(source_row as varchar), ', ' order by source_row), '')
        from (select source_row from dvf_checked d
              where reject_reason is null and not exists (select 1 from sale s where s.sale_id = d.source_row)
              order by source_row limit 10)) as sales_lost,
       (select coalesce(string_agg(commune_id, ', ' order by commune_id), '')
        from (select commune_id from population_checked p
              where reject_reason is null and not exists (select 1 from commune_population c where c.commune_id = p.commune_id)
              order by commune_id limit 10)) as populations_lost;
