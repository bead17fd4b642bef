-- The exact top 10 of every request, computed by DuckDB itself (array_inner_product over
-- every event): the independent check of the Rust flat index the dense arms rank with.
with scored as (
    select q.request, e.id, array_inner_product(q.vector, e.vector) as score
    from request_vectors q
    cross join event_vectors e
)
select request, id, score, rank
from (
    select request, id, score,
           row_number() over (partition by request order by score desc, id) as rank
    from scored
)
where rank <= 10
order by request, rank;
