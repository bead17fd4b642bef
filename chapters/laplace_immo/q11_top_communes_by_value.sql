-- Q11. Average property value of the top 3 communes in departments 06, 13, 33, 59 and 69.
with by_commune as (
    select code_department, commune_id, commune, count(*) as sales, avg(value_eur) as average_value
    from sale_facts
    where code_department in ('06', '13', '33', '59', '69')
    group by code_department, commune_id, commune
),
ranked as (
    select *, row_number() over (partition by code_department order by average_value desc, commune, commune_id) as rank
    from by_commune
)
select code_department, rank, commune, sales, round(average_value, 2) as average_value_eur
from ranked
where rank <= 3
order by code_department, rank;
