-- The audit's relational model: the export's five tables and the insertion log, with their
-- keys declared so DuckDB enforces them while loading. Money is DECIMAL, never a float.
create table calendar (
    date_id        integer primary key,          -- Excel serial date, as in the export
    calendar_date  date not null unique,
    year           integer not null,
    month          integer not null,
    day            integer not null,
    month_name     varchar not null,
    weekday        integer not null,             -- 1 = Sunday, as Excel's WEEKDAY
    quarter        varchar not null,
    is_closing_day boolean not null
);

create table product (
    product_id bigint primary key,               -- EAN-13 read as an integer
    category   varchar not null,
    aisle      varchar not null,
    label      varchar not null,
    price_eur  decimal(10, 2) not null
);

create table customer (
    customer_id  varchar primary key,
    signed_up_on date not null
);

create table staff (
    employee_id   varchar primary key,
    first_name    varchar not null,
    last_name     varchar not null,
    hired_date_id integer not null references calendar (date_id),
    email         varchar not null
);

create table sale (
    sale_id     bigint primary key,
    product_id  bigint not null references product (product_id),
    customer_id varchar not null references customer (customer_id),
    employee_id varchar not null references staff (employee_id),
    date_id     integer not null references calendar (date_id),
    ticket_id   varchar not null
);

create table insertion_log (
    user_id    varchar not null,
    logged_at  timestamp not null,
    action     varchar not null check (action in ('INSERT', 'UPDATE', 'DELETE')),
    table_name varchar not null,
    row_id     varchar not null,
    field      varchar not null,
    detail     varchar
);
