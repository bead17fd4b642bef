-- Spark's version of sale_facts.sql: the same columns over the same joins, as a temporary
-- view of the session (Spark keeps no catalog of its own for the Parquet exports).
create or replace temporary view sale_facts as
select s.sale_id,
       s.sold_on,
       quarter(s.sold_on) as quarter,
       s.value_eur,
       p.property_type,
       p.rooms,
       nullif(p.built_surface_m2, 0) as built_surface_m2,
       nullif(p.carrez_surface_m2, 0) as carrez_surface_m2,
       c.commune_id,
       c.name as commune,
       d.code_department,
       d.name as department,
       r.code_region,
       r.name as region
from sale s
join property p using (property_id)
join commune c using (commune_id)
join department d using (code_department)
join region r using (code_region)
