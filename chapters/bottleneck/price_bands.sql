-- Reconciled products per 10-euro price band.
select cast(floor(price_eur / 10) * 10 as integer) as band_from, count(*) as products
from reconciled
group by band_from
order by band_from;
