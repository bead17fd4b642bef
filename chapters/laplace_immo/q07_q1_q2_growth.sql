-- Q7. Growth of the number of sales from Q1 (1 Jan – 31 Mar) to Q2 (1 Apr – 30 Jun) 2020.
-- finding q1_sales: count, sales
-- finding q2_sales: count, sales
-- finding growth_pct: percent
with by_quarter as (
    select count(*) filter (where quarter = 1) as q1_sales,
           count(*) filter (where quarter = 2) as q2_sales
    from sale_facts
)
select q1_sales,
       q2_sales,
       round(100.0 * (q2_sales - q1_sales) / q1_sales, 2) as growth_pct
from by_quarter;
