-- Q4. The 10 departments with the highest price per m² (weighted), Carrez mean beside it.
select department,
       code_department,
       count(*) as sales,
       round(sum(value_eur) filter (where built_surface_m2 is not null)
             / sum(built_surface_m2) filter (where value_eur is not null), 2) as weighted_price_eur_m2,
       round(avg(value_eur / carrez_surface_m2), 2) as carrez_mean_price_eur_m2
from sale_facts
group by department, code_department
order by weighted_price_eur_m2 desc, code_department
limit 10;
