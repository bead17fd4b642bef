-- The rows the model learns from, in a fixed order, with the structural features and the
-- target on a log1p scale. No energy column: they are the target measured another way.
select building_id,
       building_type,
       primary_property_type,
       coalesce(neighborhood, 'UNKNOWN') as neighborhood,
       coalesce(largest_use_type, 'Unknown') as largest_use_type,
       latitude,
       longitude,
       coalesce(year_built, 1960) as year_built,
       coalesce(number_of_buildings, 1) as number_of_buildings,
       coalesce(number_of_floors, 1) as number_of_floors,
       gfa_total_sqft,
       coalesce(gfa_parking_sqft, 0) as gfa_parking_sqft,
       coalesce(gfa_building_sqft, gfa_total_sqft) as gfa_building_sqft,
       coalesce(largest_use_gfa_sqft, gfa_building_sqft, gfa_total_sqft) as largest_use_gfa_sqft,
       ghg_intensity_kg_per_sqft,
       ln(1 + ghg_intensity_kg_per_sqft) as target_log1p,
       total_ghg_tonnes
from building
where building_type not like '%Multifamily%' and outlier_flag is null and ghg_intensity_kg_per_sqft > 0
order by building_id;
