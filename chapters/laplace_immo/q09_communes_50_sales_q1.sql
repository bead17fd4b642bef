-- Q9. Communes with at least 50 sales in Q1.
-- Commune names repeat across departments: the department breaks their ties, so the order is
-- one on every engine.
select commune,
       department,
       count(*) as q1_sales
from sale_facts
where quarter = 1
group by commune_id, commune, department
having count(*) >= 50
order by q1_sales desc, commune, department;
