-- The width of the file as published.
select count(*) as columns
from (describe select * from read_csv('2016_Building_Energy_Benchmarking.csv', header = true));
