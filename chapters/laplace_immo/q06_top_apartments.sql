-- Q6. The 10 most expensive apartments, with their region and surface.
select sale_id,
       value_eur,
       region,
       commune,
       built_surface_m2,
       carrez_surface_m2,
       rooms
from sale_facts
where property_type = 'Appartement' and value_eur is not null
order by value_eur desc, sale_id
limit 10;
