-- Okapi BM25's index over each event's title and description, built once for the events:
-- each word's count per event, each event's length, each word's rarity (bm25_top.sql scores
-- the requests against it). Words are runs of letters and digits, lower-cased,
-- accents kept (the same text the embedding model reads). k1 = 1.2, b = 0.75,
-- idf = ln(1 + (N - df + 0.5) / (df + 0.5)).
create or replace table event_terms as
select id, term, count(*) as tf
from (
    select id, unnest(regexp_extract_all(lower(title || '. ' || description), '[\p{L}\p{N}]+')) as term
    from events
)
group by id, term;

create or replace table event_length as
select id, sum(tf) as len from event_terms group by id;

create or replace table term_idf as
select term, ln(1 + (n - df + 0.5) / (df + 0.5)) as idf
from (select term, count(*) as df from event_terms group by term)
cross join (select count(*) as n from events);
