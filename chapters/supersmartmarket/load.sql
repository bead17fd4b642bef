-- Load the export as it comes (`;`, CRLF, UTF-8 BOM): explicit column types, and rows that do
-- not fit them kept aside in DuckDB's reject tables instead of stopping the load or vanishing.
insert into calendar
select Date_id, Date_form, Annee, Mois, Jour, Mois_nom, Jour_semaine, Trimestre,
       -- closed on Sundays and on French fixed-date public holidays
       Jour_semaine = 1 or Mois * 100 + Jour in (101, 501, 508, 714, 815, 1101, 1111, 1225)
from read_csv('Dim_Date.csv', delim = ';', header = true, store_rejects = true,
              columns = {'Date_id': 'integer', 'Annee': 'integer', 'Mois': 'integer', 'Jour': 'integer',
                         'Mois_nom': 'varchar', 'Jour_semaine': 'integer', 'Trimestre': 'varchar',
                         'Date_form': 'date'});

insert into product
select Produit_id, Categorie, Rayon, Libelle_produit, Prix
from read_csv('Dim_Produit.csv', delim = ';', header = true, store_rejects = true, quote = '',
              columns = {'Produit_id': 'bigint', 'Categorie': 'varchar', 'Rayon': 'varchar',
                         'Libelle_produit': 'varchar', 'Prix': 'decimal(10, 2)'});

insert into customer
select Customer_id, date_inscription
from read_csv('Dim_Client.csv', delim = ';', header = true, store_rejects = true,
              columns = {'Customer_id': 'varchar', 'date_inscription': 'date'});

insert into staff
select Employee_id, Prenom, Nom, Date_id, Email
from read_csv('Dim_Staff.csv', delim = ';', header = true, store_rejects = true,
              columns = {'Employee_id': 'varchar', 'Prenom': 'varchar', 'Nom': 'varchar',
                         'Date_id': 'integer', 'Email': 'varchar'});

-- A sale must have an id of its own and name a product, customer, employee and day the other
-- files have: the first that does not stops the load here, naming the file, the sale and the
-- field (the tables' keys would only say that some value broke a constraint). Rows that do
-- not fit the column types are skipped here: the load below keeps them aside.
select error(problem)
from (
    with sales as (
        select * from read_csv('Fact_vente.csv', delim = ';', header = true, ignore_errors = true,
                               columns = {'vente_id': 'bigint', 'produit_id': 'bigint', 'customer_id': 'varchar',
                                          'employee_id': 'varchar', 'date_id': 'integer', 'ticket_id': 'varchar'})
    ),
    problems as (
        select 0 as kind, vente_id, 'Fact_vente.csv: a sale has no vente_id' as problem
        from sales where vente_id is null
        union all
        select 1, vente_id, format('Fact_vente.csv: sale {} appears {} times', vente_id, count(*))
        from sales where vente_id is not null group by vente_id having count(*) > 1
        union all
        select 2, vente_id, format('Fact_vente.csv: sale {} has produit_id {}, which no row of Dim_Produit.csv has',
                                   vente_id, coalesce(cast(produit_id as varchar), '(empty)'))
        from sales where produit_id is null or produit_id not in (select product_id from product)
        union all
        select 3, vente_id, format('Fact_vente.csv: sale {} has customer_id {}, which no row of Dim_Client.csv has',
                                   vente_id, coalesce(customer_id, '(empty)'))
        from sales where customer_id is null or customer_id not in (select customer_id from customer)
        union all
        select 4, vente_id, format('Fact_vente.csv: sale {} has employee_id {}, which no row of Dim_Staff.csv has',
                                   vente_id, coalesce(employee_id, '(empty)'))
        from sales where employee_id is null or employee_id not in (select employee_id from staff)
        union all
        select 5, vente_id, format('Fact_vente.csv: sale {} has date_id {}, which no row of Dim_Date.csv has',
                                   vente_id, coalesce(cast(date_id as varchar), '(empty)'))
        from sales where date_id is null or date_id not in (select date_id from calendar)
    )
    select problem from problems order by kind, vente_id nulls first limit 1
);

insert into sale
select vente_id, produit_id, customer_id, employee_id, date_id, ticket_id
from read_csv('Fact_vente.csv', delim = ';', header = true, store_rejects = true,
              columns = {'vente_id': 'bigint', 'produit_id': 'bigint', 'customer_id': 'varchar',
                         'employee_id': 'varchar', 'date_id': 'integer', 'ticket_id': 'varchar'});
