-- What the reconciliation left out, by side.
select side, count(*) as products
from reconcile_orphans
group by side
order by side;
