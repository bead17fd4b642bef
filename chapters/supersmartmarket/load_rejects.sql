-- Every row the load kept aside, with its file, line, column and the reason.
select regexp_extract(s.file_path, '[^/\\]+$') as file,
       e.line,
       e.column_name,
       e.error_type,
       e.error_message
from reject_errors e
join reject_scans s using (scan_id, file_id)
order by file, e.line, e.column_name;
