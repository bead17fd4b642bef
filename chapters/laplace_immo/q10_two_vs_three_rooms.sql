-- Q10. Difference in % of the price per m² between 2-room and 3-room apartments.
-- finding two_rooms_weighted_eur_m2: number 2, EUR/m²
-- finding three_rooms_weighted_eur_m2: number 2, EUR/m²
-- finding weighted_difference_pct: percent
-- finding two_rooms_carrez_mean_eur_m2: number 2, EUR/m²
-- finding three_rooms_carrez_mean_eur_m2: number 2, EUR/m²
-- finding carrez_difference_pct: percent
with by_rooms as (
    select rooms,
           sum(value_eur) filter (where built_surface_m2 is not null)
               / sum(built_surface_m2) filter (where value_eur is not null) as weighted,
           avg(value_eur / carrez_surface_m2) as carrez_mean
    from sale_facts
    where property_type = 'Appartement' and rooms in (2, 3)
    group by rooms
)
select round(two.weighted, 2) as two_rooms_weighted_eur_m2,
       round(three.weighted, 2) as three_rooms_weighted_eur_m2,
       round(100.0 * (three.weighted - two.weighted) / two.weighted, 2) as weighted_difference_pct,
       round(two.carrez_mean, 2) as two_rooms_carrez_mean_eur_m2,
       round(three.carrez_mean, 2) as three_rooms_carrez_mean_eur_m2,
       round(100.0 * (three.carrez_mean - two.carrez_mean) / two.carrez_mean, 2) as carrez_difference_pct
from by_rooms two, by_rooms three
where two.rooms = 2 and three.rooms = 3;
