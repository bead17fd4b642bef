-- Q1. Number of apartments sold in the first half of 2020.
-- finding apartments_sold: count, apartments
select count(*) as apartments_sold
from sale_facts
where property_type = 'Appartement'
  and sold_on between date '2020-01-01' and date '2020-06-30';
