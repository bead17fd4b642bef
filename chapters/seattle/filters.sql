-- The scope, one filter after the other, each counted: non-residential buildings (every
-- BuildingType containing "Multifamily" is dropped), then the rows the city flagged as
-- outliers, then the rows without a positive target.
with steps as (
    select 1 as step, 'all buildings in the file' as filter, count(*) as rows_left from building
    union all
    select 2, 'drop BuildingType containing "Multifamily"', count(*) from building
    where building_type not like '%Multifamily%'
    union all
    select 3, 'drop rows flagged as outliers', count(*) from building
    where building_type not like '%Multifamily%' and outlier_flag is null
    union all
    select 4, 'drop rows whose GHG intensity is missing or not positive', count(*) from building
    where building_type not like '%Multifamily%' and outlier_flag is null and ghg_intensity_kg_per_sqft > 0
)
select step, filter, rows_left, lag(rows_left) over (order by step) - rows_left as rows_dropped
from steps
order by step;
