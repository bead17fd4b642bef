-- Q5. Average price per m² of a house in Île-de-France (region 11).
-- finding house_sales: count, sales
-- finding weighted_price_eur_m2: number 2, EUR/m²
-- finding carrez_mean_price_eur_m2: number 2, EUR/m²
-- finding sales_with_carrez: count, sales
select count(*) as house_sales,
       round(sum(value_eur) filter (where built_surface_m2 is not null)
             / sum(built_surface_m2) filter (where value_eur is not null), 2) as weighted_price_eur_m2,
       round(avg(value_eur / carrez_surface_m2), 2) as carrez_mean_price_eur_m2,
       count(carrez_surface_m2) as sales_with_carrez
from sale_facts
where property_type = 'Maison' and code_region = '11';
