-- The MiniLM vectors the Rust embedder computed, handed to DuckDB as text (each float in
-- the shortest form that reads back to the same f32) and cast to fixed-size arrays.
create or replace table event_vectors as
select id, vector::FLOAT[384] as vector from event_vector_text;

create or replace table request_vectors as
select request, vector::FLOAT[384] as vector from request_vector_text;
