-- Q8. Regions ranked by price per m² of apartments with more than 4 rooms.
select region,
       count(*) as sales,
       round(sum(value_eur) filter (where built_surface_m2 is not null)
             / sum(built_surface_m2) filter (where value_eur is not null), 2) as weighted_price_eur_m2,
       round(avg(value_eur / carrez_surface_m2), 2) as carrez_mean_price_eur_m2
from sale_facts
where property_type = 'Appartement' and rooms > 4
group by region
order by weighted_price_eur_m2 desc, region;
