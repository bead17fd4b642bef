-- Q2. Apartment sales per region.
select region,
       count(*) as apartment_sales
from sale_facts
where property_type = 'Appartement'
group by region
order by apartment_sales desc, region;
