-- The relational model: geography (region ⊃ department ⊃ commune), demography (population
-- per commune), and the sales (a property, and the sale of it). Keys are declared, so DuckDB
-- enforces every reference while loading. Codes are text: `01`, `2A`, `972`.
create table region (
    code_region varchar primary key,
    name        varchar not null
);

create table department (
    code_department varchar primary key,
    name            varchar not null,
    code_region     varchar not null references region (code_region)
);

create table commune (
    commune_id      varchar primary key,   -- department code + commune code: 01001, 2A004, 972201
    code_department varchar not null references department (code_department),
    code_commune    varchar not null,
    name            varchar not null
);

create table commune_population (
    commune_id           varchar primary key references commune (commune_id),
    municipal_population integer not null,   -- PMUN
    counted_apart        integer not null,   -- PCAP
    total_population     integer not null    -- PTOT
);

create table property (
    property_id       bigint primary key,
    commune_id        varchar not null references commune (commune_id),
    property_type     varchar not null check (property_type in ('Appartement', 'Maison')),
    rooms             integer not null,
    built_surface_m2  decimal(10, 2),
    carrez_surface_m2 decimal(10, 2),      -- the first lot's Carrez surface
    lots              integer,
    street_number     varchar,
    street_type       varchar,
    street            varchar,
    postal_code       varchar
);

create table sale (
    sale_id     bigint primary key,
    property_id bigint not null references property (property_id),
    sold_on     date not null,
    nature      varchar not null,
    -- null: DVF gives no value. The sale happened all the same: the counting questions count
    -- it, the price questions leave it out.
    value_eur   decimal(15, 2)
);
