-- The insertion log: one INSERT row per field of each sale, one UPDATE row per price change.
insert into insertion_log
select id_user, "date", action, table_insert, id_ligne, champs, detail
from read_csv('Log_insertion.csv', delim = ';', header = true, store_rejects = true, quote = '',
              columns = {'id_user': 'varchar', 'date': 'timestamp', 'action': 'varchar',
                         'table_insert': 'varchar', 'id_ligne': 'varchar', 'champs': 'varchar',
                         'detail': 'varchar'});
