-- Scale > 1 only: a seeded generator of DVF-like sales with the same schema. Each loaded sale
-- is copied (scale − 1) times with noise drawn from a hash of (seed, row, copy): value ×
-- 0.85…1.15, surfaces × 0.9…1.1, the date moved within the semester. Geography and
-- property types keep the real distribution.
insert into dvf_checked by name
select d.* replace (
           source_row + copy_no * 10000000 as source_row,
           round(value_eur * (0.85 + 0.30 * (hash(getvariable('seed'), source_row, copy_no, 'v') % 1000000) / 1e6), 2)::decimal(15, 2) as value_eur,
           round(built_surface_m2 * (0.9 + 0.2 * (hash(getvariable('seed'), source_row, copy_no, 's') % 1000000) / 1e6), 2)::decimal(10, 2) as built_surface_m2,
           round(carrez_surface_m2 * (0.9 + 0.2 * (hash(getvariable('seed'), source_row, copy_no, 's') % 1000000) / 1e6), 2)::decimal(10, 2) as carrez_surface_m2,
           date '2020-01-02' + cast(hash(getvariable('seed'), source_row, copy_no, 'd') % 181 as integer) as sold_on
       )
from dvf_checked d
cross join (select unnest(range(1, getvariable('scale'))) as copy_no)
where reject_reason is null;
