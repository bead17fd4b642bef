-- The events as DuckDB holds them: the rows the chapter read from the events file (handed
-- over by the Rust reader, which refuses a bad line naming it), typed here.
create or replace table events as
select id, title, description, kind, family, audience, price_eur, date::DATE as date,
       start, commune_code, commune, indoor, accessible
from event_rows;
