-- The 2016 benchmarking file as published, one row per building, with the columns the model
-- may use (facts known before any metering), the flags and the targets. Energy use columns
-- are left in the file: they are measurements of what the model must predict.
create table building as
select "OSEBuildingID" as building_id,
       "BuildingType" as building_type,
       "PrimaryPropertyType" as primary_property_type,
       -- the file spells some neighbourhoods in two cases ('North', 'NORTH')
       case upper(trim("Neighborhood")) when 'DELRIDGE NEIGHBORHOODS' then 'DELRIDGE'
            else upper(trim("Neighborhood")) end as neighborhood,
       "Latitude" as latitude,
       "Longitude" as longitude,
       "YearBuilt" as year_built,
       "NumberofBuildings" as number_of_buildings,
       "NumberofFloors" as number_of_floors,
       "PropertyGFATotal" as gfa_total_sqft,
       "PropertyGFAParking" as gfa_parking_sqft,
       "PropertyGFABuilding(s)" as gfa_building_sqft,
       -- a missing largest use is written both empty and as the text NULL: both are missing
       nullif(trim("LargestPropertyUseType"), 'NULL') as largest_use_type,
       "LargestPropertyUseTypeGFA" as largest_use_gfa_sqft,
       "Outlier" as outlier_flag,
       "TotalGHGEmissions" as total_ghg_tonnes,
       "GHGEmissionsIntensity" as ghg_intensity_kg_per_sqft
from read_csv('2016_Building_Energy_Benchmarking.csv', header = true,
              types = {'OSEBuildingID': 'integer', 'ZipCode': 'varchar', 'TaxParcelIdentificationNumber': 'varchar',
                       'Latitude': 'double', 'Longitude': 'double', 'YearBuilt': 'integer',
                       'NumberofBuildings': 'integer', 'NumberofFloors': 'integer',
                       'PropertyGFATotal': 'double', 'PropertyGFAParking': 'double', 'PropertyGFABuilding(s)': 'double',
                       'LargestPropertyUseTypeGFA': 'double', 'TotalGHGEmissions': 'double',
                       'GHGEmissionsIntensity': 'double', 'Outlier': 'varchar'});
