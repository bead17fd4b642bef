-- Price updates per day, from the log.
select cast(changed_at as date) as changed_on,
       count(*) as updates,
       count(distinct product_id) as products,
       sum(new_price_eur - old_price_eur) as sum_of_changes_eur,
       min(changed_at) as first_changed_at,
       max(changed_at) as last_changed_at
from price_change
group by cast(changed_at as date)
order by changed_on;
