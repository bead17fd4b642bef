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

insert into sale
select vente_id, produit_id, customer_id, employee_id, date_id, ticket_id
from read_csv('Fact_vente.csv', delim = ';', header = true, store_rejects = true,
              columns = {'vente_id': 'bigint', 'produit_id': 'bigint', 'customer_id': 'varchar',
                         'employee_id': 'varchar', 'date_id': 'integer', 'ticket_id': 'varchar'});
