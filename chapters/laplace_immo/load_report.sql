-- Rows read, loaded and rejected per source, and why.
select 'valeurs_foncieres' as source,
       coalesce(reject_reason, '(loaded)') as outcome,
       count(*) as rows
from dvf_checked
group by all
union all
select 'donnees_communes', coalesce(reject_reason, '(loaded)'), count(*)
from population_checked
group by all
order by source, outcome;
