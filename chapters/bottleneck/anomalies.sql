-- ERP anomalies for the merchant to fix at the source, by kind.
select anomaly, count(*) as products
from erp_anomalies
group by anomaly
order by anomaly;
