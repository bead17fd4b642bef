//! Where results go: Parquet files (the `parquet` crate's writer), put through the engine's
//! object storage (`crate::backends::objstore`: a local directory by default, S3 with an endpoint).
//! File names are deterministic (by hour of window, by ticket sequence range), so a re-run, or a run
//! restarted from a checkpoint, writes the same objects with the same bytes.

use std::sync::Arc;

use parquet::basic::{Compression, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::{ColumnPath, SchemaDescriptor};

use super::generate::Ticket;
use super::window::{Closed, PRIORITIES, SIZE_MS};

fn writer_props() -> Arc<WriterProperties> {
    // Snappy, and the library's own created_by: bytes depend only on the rows.
    Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    )
}

/// The raw archive's, for its schema. A ticket id is never repeated, so a dictionary of them
/// is as long as the column and only costs a hash of every id (perf: 15 % of the archive's
/// encoding). The text columns, read off the schema, carry no min/max statistics: nothing
/// prunes the archive by a text (it is read whole), and comparing every value with the
/// page's min and max was a fifth of the writer's time (perf: `memcmp` under
/// `fallback_min_max`). The numbers keep theirs.
fn raw_props(schema: &SchemaDescriptor) -> Arc<WriterProperties> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_column_dictionary_enabled(ColumnPath::from("ticket_id"), false);
    for column in schema.columns() {
        if column.physical_type() == PhysicalType::BYTE_ARRAY {
            props =
                props.set_column_statistics_enabled(column.path().clone(), EnabledStatistics::None);
        }
    }
    Arc::new(props.build())
}

/// Columns of one file, in schema order.
enum Col {
    I64(Vec<i64>),
    I32(Vec<i32>),
    /// Strings, as the encoder takes them.
    Text(Vec<ByteArray>),
}

fn write(schema: &str, columns: Vec<Col>) -> Result<Vec<u8>, ParquetError> {
    write_with(schema, columns, |_| writer_props())
}

/// Writes `columns` under `schema`, with the properties `props` gives for it.
fn write_with(
    schema: &str,
    columns: Vec<Col>,
    props: impl FnOnce(&SchemaDescriptor) -> Arc<WriterProperties>,
) -> Result<Vec<u8>, ParquetError> {
    let schema = Arc::new(parse_message_type(schema)?);
    let props = props(&SchemaDescriptor::new(schema.clone()));
    let mut out = Vec::new();
    {
        let mut writer = SerializedFileWriter::new(&mut out, schema, props)?;
        let mut row_group = writer.next_row_group()?;
        let mut columns = columns.into_iter();
        while let Some(mut column) = row_group.next_column()? {
            match columns
                .next()
                .ok_or_else(|| ParquetError::General("more schema columns than data".into()))?
            {
                Col::I64(v) => column.typed::<Int64Type>().write_batch(&v, None, None)?,
                Col::I32(v) => column.typed::<Int32Type>().write_batch(&v, None, None)?,
                Col::Text(v) => column
                    .typed::<ByteArrayType>()
                    .write_batch(&v, None, None)?,
            };
            column.close()?;
        }
        row_group.close()?;
        writer.close()?;
    }
    Ok(out)
}

/// Closed windows as rows: one per window and priority, zero counts included.
pub fn windows_parquet(closed: &[Closed]) -> Result<Vec<u8>, ParquetError> {
    let (mut start, mut end, mut priority, mut tickets, mut closed_at) =
        (vec![], vec![], vec![], vec![], vec![]);
    for c in closed {
        for (p, name) in PRIORITIES.iter().enumerate() {
            start.push(c.start_ms);
            end.push(c.start_ms + SIZE_MS);
            priority.push(ByteArray::from(*name));
            tickets.push(c.counts[p]);
            closed_at.push(c.closed_at_arrival_ms);
        }
    }
    write(
        "message window_counts {
            required int64 window_start (TIMESTAMP(MILLIS,false));
            required int64 window_end (TIMESTAMP(MILLIS,false));
            required binary priority (STRING);
            required int64 tickets;
            required int64 closed_at (TIMESTAMP(MILLIS,false));
        }",
        vec![
            Col::I64(start),
            Col::I64(end),
            Col::Text(priority),
            Col::I64(tickets),
            Col::I64(closed_at),
        ],
    )
}

/// Raw tickets with where they were read (partition, offset). Taken by value: each text
/// moves into the encoder's column as it is, never copied (perf: the copy was 6 % of a
/// stream run's samples).
pub fn tickets_parquet(tickets: Vec<(Ticket, i32, i64)>) -> Result<Vec<u8>, ParquetError> {
    let n = tickets.len();
    let (mut seq, mut created, mut arrival, mut partition, mut offset) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut texts: [Vec<ByteArray>; 5] = std::array::from_fn(|_| Vec::with_capacity(n));
    for (t, p, o) in tickets {
        seq.push(t.seq as i64);
        created.push(t.created_at_ms);
        arrival.push(t.arrival_ms);
        partition.push(p);
        offset.push(o);
        for (column, text) in texts.iter_mut().zip([
            t.ticket_id,
            t.client_id,
            t.request,
            t.request_type,
            t.priority,
        ]) {
            column.push(ByteArray::from(text.into_bytes()));
        }
    }
    let [ticket_id, client_id, request, request_type, priority] = texts.map(Col::Text);
    write_with(
        "message tickets {
            required int64 seq;
            required binary ticket_id (STRING);
            required binary client_id (STRING);
            required int64 created_at (TIMESTAMP(MILLIS,false));
            required int64 arrival (TIMESTAMP(MILLIS,false));
            required binary request (STRING);
            required binary request_type (STRING);
            required binary priority (STRING);
            required int32 partition;
            required int64 offset;
        }",
        vec![
            Col::I64(seq),
            ticket_id,
            client_id,
            Col::I64(created),
            Col::I64(arrival),
            request,
            request_type,
            priority,
            Col::I32(partition),
            Col::I64(offset),
        ],
        raw_props,
    )
}

/// Late tickets per window and priority.
pub fn late_parquet(
    late: &std::collections::BTreeMap<i64, [i64; 4]>,
) -> Result<Vec<u8>, ParquetError> {
    let (mut start, mut priority, mut n) = (vec![], vec![], vec![]);
    for (s, counts) in late {
        for (p, name) in PRIORITIES.iter().enumerate() {
            if counts[p] > 0 {
                start.push(*s);
                priority.push(ByteArray::from(*name));
                n.push(counts[p]);
            }
        }
    }
    write(
        "message late_counts {
            required int64 window_start (TIMESTAMP(MILLIS,false));
            required binary priority (STRING);
            required int64 late_tickets;
        }",
        vec![Col::I64(start), Col::Text(priority), Col::I64(n)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    #[test]
    fn the_raw_archive_keeps_statistics_for_numbers_only_and_no_dictionary_of_ids() {
        let ticket = |seq: u64| Ticket {
            seq,
            ticket_id: format!("T{seq:07}").into(),
            client_id: "C1".into(),
            created_at_ms: 1_000 * seq as i64,
            arrival_ms: 1_000 * seq as i64 + 5,
            request: "Écran noir".into(),
            request_type: "Technique".into(),
            priority: "Haute".into(),
        };
        let bytes = tickets_parquet(vec![(ticket(1), 0, 10), (ticket(2), 1, 11)]).unwrap();
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
        let row_group = reader.metadata().row_group(0);
        let mut texts = 0;
        for column in row_group.columns() {
            let name = column.column_path().string();
            if column.column_type() == PhysicalType::BYTE_ARRAY {
                texts += 1;
                assert!(column.statistics().is_none(), "{name} has statistics");
            } else {
                assert!(column.statistics().is_some(), "{name} has none");
            }
            if name == "ticket_id" {
                assert!(
                    column.dictionary_page_offset().is_none(),
                    "ids in a dictionary"
                );
            }
        }
        assert_eq!(texts, 5, "the five texts are the schema's byte arrays");
    }
}
