-- The dashboard's query as it ran: each day's sales times the product table's price today.
select c.calendar_date as sold_on,
       count(*) as sales,
       count(distinct s.ticket_id) as tickets,
       sum(p.price_eur) as dashboard_revenue_eur
from sale s
join calendar c using (date_id)
join product p using (product_id)
group by c.calendar_date
order by sold_on;
