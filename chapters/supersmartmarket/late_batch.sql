-- Every late batch (the view `late_batches`, in sale_timeline.sql), in time order.
select sold_on,
       inserted_on,
       inserted_by,
       sales,
       revenue_eur,
       first_inserted_at,
       last_inserted_at,
       first_sale_id,
       last_sale_id
from late_batches
order by sold_on, inserted_on, inserted_by;
