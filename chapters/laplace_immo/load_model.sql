-- The checked rows into the model: one property and one sale per loaded row.
insert into property
select source_row, commune_id, type_local, rooms, built_surface_m2, carrez_surface_m2, lots,
       no_voie, type_de_voie, voie, code_postal
from dvf_checked
where reject_reason is null;

insert into sale
select source_row, source_row, sold_on, nature_mutation, value_eur
from dvf_checked
where reject_reason is null;
