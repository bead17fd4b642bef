-- The DVF extract, staged as text, checked row by row: a row is loaded or rejected with its
-- reason, never dropped. Codes lost their leading zeros in the spreadsheet: the department
-- is padded to two digits (2A/2B and 97x kept); the commune to three, except overseas, where
-- DVF keeps the INSEE code's last two digits and the reference prefixes the third digit of
-- the department (971 + 27 → 971127).
create table dvf_checked as
with coded as (
    select d.*,
           case when regexp_full_match(code_departement, '[0-9]') then '0' || code_departement
                else code_departement end as dep,
           try_cast(valeur_fonciere as decimal(15, 2)) as value_eur,
           try_cast(date_mutation as date) as sold_on,
           try_cast(surface_reelle_bati as decimal(10, 2)) as built_surface_m2,
           try_cast(surface_carrez_du_1er_lot as decimal(10, 2)) as carrez_surface_m2,
           try_cast(nombre_pieces_principales as integer) as rooms,
           try_cast(nombre_de_lots as integer) as lots
    from raw_dvf d
),
keyed as (
    select *,
           dep || case when length(dep) = 3 then substr(dep, 3, 1) || lpad(code_commune, 2, '0')
                       else lpad(code_commune, 3, '0') end as commune_id
    from coded
)
select *,
       case
           -- an empty value is a sale without a price (loaded, value null); a value that is
           -- there but not a number is an error of the file
           when valeur_fonciere is not null and value_eur is null then 'value is not a number'
           when sold_on is null then 'no valid date'
           when rooms is null then 'no number of rooms'
           when type_local not in ('Appartement', 'Maison') then 'not a house or an apartment'
           when commune_id not in (select commune_id from commune) then 'commune not in the geography reference'
       end as reject_reason
from keyed;
