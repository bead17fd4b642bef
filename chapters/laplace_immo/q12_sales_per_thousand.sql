-- Q12. The 20 communes of more than 10,000 inhabitants (total population, PTOT) with the most
-- sales per 1,000 inhabitants.
select f.commune,
       f.department,
       p.total_population,
       count(*) as sales,
       round(1000.0 * count(*) / p.total_population, 3) as sales_per_1000
from sale_facts f
join commune_population p using (commune_id)
where p.total_population > 10000
group by f.commune_id, f.commune, f.department, p.total_population
order by sales_per_1000 desc, f.commune, f.department
limit 20;
