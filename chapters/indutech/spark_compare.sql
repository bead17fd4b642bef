-- The cells by outcome: emitted by Spark (and how many of those differ from the chapter's
-- count), still open under Spark's final watermark, or closed and not emitted.
select outcome,
       count(*) as cells,
       count(*) filter (where chapter is distinct from spark) as differing,
       coalesce(sum(chapter), 0) as chapter_tickets,
       coalesce(sum(spark), 0) as spark_tickets
from spark_cells
group by outcome
order by outcome;
