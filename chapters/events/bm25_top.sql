-- The 100 best events of each request by BM25, twice: over every event (`bm25`), and over
-- the events that pass the request's filters, applied before ranking (`bm25_filtered`).
-- Scores are rounded to 9 decimals before ranking, so that the order in which DuckDB's
-- threads add up a sum can never swap two events whose scores are equal. A request's words
-- are read as an event's are (runs of letters and digits, lower-cased), each counted once.
with request_terms as (
    select distinct request, term
    from (
        select request, unnest(regexp_extract_all(lower(text), '[\p{L}\p{N}]+')) as term
        from requests
    )
),
avg_length as (select avg(len) as avgdl from event_length),
scores as (
    select r.request, t.id,
           round(sum(i.idf * t.tf * (1.2 + 1)
                 / (t.tf + 1.2 * (1 - 0.75 + 0.75 * l.len / a.avgdl))), 9) as score
    from request_terms r
    join event_terms t using (term)
    join term_idf i using (term)
    join event_length l on l.id = t.id
    cross join avg_length a
    group by r.request, t.id
),
arms as (
    select 'bm25' as arm, request, id, score from scores
    union all
    select 'bm25_filtered' as arm, s.request, s.id, s.score
    from scores s
    join requests q on q.request = s.request
    join events e on e.id = s.id
    cross join weekend w
    where (not q.free or e.price_eur = 0)
      and (not q.weekend or e.date between w.first_day and w.last_day)
      -- A city counted by arrondissement (Paris, Lyon, Marseille) holds its arrondissements.
      and (q.commune is null or e.commune = q.commune
           or (starts_with(e.commune, q.commune || ' ')
               and regexp_full_match(ltrim(substr(e.commune, length(q.commune) + 2)), '[0-9]+(er|e)')))
      and (not q.accessible or e.accessible)
      and (q.audience is null or e.audience = q.audience)
)
select arm, request, id, score, rank
from (
    select *, row_number() over (partition by arm, request order by score desc, id) as rank
    from arms
)
where rank <= 100
order by arm, request, rank;
