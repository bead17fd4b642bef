-- The values the training set fills in, per column, with the rule that fills them: a missing
-- value is imputed, never a reason to drop the building. Counted over the training set's own
-- scope (the check `imputed.same_scope` ties the two row counts together).
with scope as (
    select * from building
    where building_type not like '%Multifamily%'
      and outlier_flag is null
      and ghg_intensity_kg_per_sqft > 0
),
imputed as (
    select 1 as position, 'neighborhood' as column_name, 'UNKNOWN' as rule,
           count(*) filter (where neighborhood is null) as imputed, count(*) as rows_in_scope from scope
    union all
    select 2, 'largest_use_type', 'Unknown', count(*) filter (where largest_use_type is null), count(*) from scope
    union all
    select 3, 'year_built', '1960', count(*) filter (where year_built is null), count(*) from scope
    union all
    select 4, 'number_of_buildings', '1', count(*) filter (where number_of_buildings is null), count(*) from scope
    union all
    select 5, 'number_of_floors', '1', count(*) filter (where number_of_floors is null), count(*) from scope
    union all
    select 6, 'gfa_parking_sqft', '0', count(*) filter (where gfa_parking_sqft is null), count(*) from scope
    union all
    select 7, 'gfa_building_sqft', 'gfa_total_sqft', count(*) filter (where gfa_building_sqft is null), count(*) from scope
    union all
    select 8, 'largest_use_gfa_sqft', 'gfa_building_sqft, else gfa_total_sqft',
           count(*) filter (where largest_use_gfa_sqft is null), count(*) from scope
)
select column_name, rule, imputed, rows_in_scope
from imputed
order by position;
