-- The geography reference as text (codes keep their leading zeros), then the populations,
-- whose INSEE codes mix text and numbers ('01' beside 971) and are normalised here.
insert into region
select code_region, nom_region
from read_csv('region.csv', delim = ';', header = true, all_varchar = true);

insert into department
select code_departement, nom_departement, code_region
from read_csv('departement.csv', delim = ';', header = true, all_varchar = true);

insert into commune
select id_commune, code_departement, code_commune, nom_commune
from read_csv('commune.csv', delim = ';', header = true, all_varchar = true, quote = '"');

create table population_checked as
with coded as (
    select source_row,
           case when regexp_full_match(coddep, '[0-9]') then '0' || coddep else coddep end
             || lpad(codcom, 3, '0') as commune_id,
           try_cast(pmun as integer) as pmun,
           try_cast(pcap as integer) as pcap,
           try_cast(ptot as integer) as ptot
    from raw_population
)
select *,
       case
           when ptot is null then 'population is not a number'
           when commune_id not in (select commune_id from commune) then 'commune not in the geography reference'
       end as reject_reason
from coded;

insert into commune_population
select commune_id, pmun, pcap, ptot
from population_checked
where reject_reason is null;
