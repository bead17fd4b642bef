-- Price per m² per region, all sales, both conventions, with the Q1 → Q2 change in sales.
select region,
       count(*) as sales,
       round(sum(value_eur) filter (where built_surface_m2 is not null)
             / sum(built_surface_m2) filter (where value_eur is not null), 2) as weighted_price_eur_m2,
       round(avg(value_eur / carrez_surface_m2), 2) as carrez_mean_price_eur_m2,
       round(100.0 * (count(*) filter (where quarter = 2) - count(*) filter (where quarter = 1))
             / nullif(count(*) filter (where quarter = 1), 0), 2) as q1_q2_growth_pct
from sale_facts
group by region
order by weighted_price_eur_m2 desc, region;
