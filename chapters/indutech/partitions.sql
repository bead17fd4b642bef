-- How the client key spread the tickets over the partitions; `records` also counts the
-- heartbeats the producer sends every 1,000 tickets to every partition.
select partition, count(*) as tickets, count(distinct client_id) as clients, max("offset") + 1 as records
from read_parquet('raw/*/*.parquet')
group by partition
order by partition;
