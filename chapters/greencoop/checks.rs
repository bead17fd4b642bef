//! GreenCoop's checks: every row read is accounted for (a reading, quarantined, or a blank
//! row), a re-run loads nothing, the backup restores the same documents, the alarms fire
//! where the figures say, and each planted trap is caught.

use crate::error::Result;
use crate::notebook::{Notebook, Status};

use super::generate;
use super::pipeline::Outcome;
use super::{pipeline, wunderground};

/// Every check of the chapter, over what the pipeline did.
pub(super) fn all(
    nb: &mut Notebook,
    o: &Outcome,
    planted: Option<&generate::Planted>,
) -> Result<()> {
    // Three counts from three places: rows read (the parser), readings and quarantined rows
    // in the store (counted from the server), duplicates (the parser's keys). A copy refused
    // as a duplicate counts only if it is the same reading as the one kept.
    let read = o.parsed.rows_read();
    let input_duplicates = o.parsed.readings.len() - o.distinct_readings;
    let identical_duplicates = input_duplicates - o.conflicting_copies;
    nb.add_check(
        "rows.conserved",
        "every row read is in the store, an identical copy the unique key refused, or in the quarantine collection: read = readings stored + identical duplicates + quarantined rows stored, each counted where it is",
        Status::of(read as u64 == o.ours_in_store + identical_duplicates as u64 + o.quarantine_stored, || {
            format!(
                "read {read}, readings in store {}, identical duplicates {identical_duplicates}, quarantined rows in store {}; {} copies differ from the reading kept under their key: {}",
                o.ours_in_store,
                o.quarantine_stored,
                o.conflicting_copies,
                o.conflicting_keys.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            )
        }),
        &["rows.read", "store.ours", "rows.input_duplicates", "store.quarantine"],
    )?;
    let b = &o.backup;
    nb.add_check(
        "backup.restored_identical",
        "the backup, fetched back from object storage with its checksums verified and restored into an empty database, holds the same documents: same count, same content hash",
        Status::of(b.documents == b.restored && b.hash_original == b.hash_restored && b.checksum_problems.is_empty(), || {
            let short = |h: &str| h.chars().take(12).collect::<String>();
            format!(
                "{} documents backed up, {} restored, hashes {} / {}; checksum problems: {}",
                b.documents,
                b.restored,
                short(&b.hash_original),
                if b.hash_restored.is_empty() { "(nothing restored)".to_string() } else { short(&b.hash_restored) },
                if b.checksum_problems.is_empty() { "none".to_string() } else { b.checksum_problems.join("; ") }
            )
        }),
        &["backup.documents", "backup.restored", "backup.hash"],
    )?;
    let status = match planted {
        Some(p) => {
            let wu: Vec<&pipeline::Staged> = o
                .staged
                .iter()
                .filter(|s| s.source == wunderground::SOURCE)
                .collect();
            let wu_quarantined: usize = wu.iter().map(|s| s.quarantined).sum();
            let wu_blank: usize = wu.iter().map(|s| s.blank_rows).sum();
            let wu_rows: usize = wu.iter().map(|s| s.rows_read).sum();
            Status::of(
                wu_quarantined == p.bad_rows
                    && wu_blank == p.blank_rows
                    && wu_rows == p.rows_written
                    && input_duplicates == p.duplicate_rows,
                || {
                    format!(
                    "generator: {} rows, {} bad, {} blank, {} duplicated; pipeline: {wu_rows} rows, {wu_quarantined} quarantined, {wu_blank} blank, {input_duplicates} duplicates",
                    p.rows_written, p.bad_rows, p.blank_rows, p.duplicate_rows
                )
                },
            )
        }
        None => Status::NotApplicable(
            "the workbooks were given with --data: nothing was planted to compare with".into(),
        ),
    };
    nb.add_check(
        "generator.traps_found",
        "every trap the generator planted is found: bad values quarantined, blank rows skipped, duplicated rows refused",
        status,
        &["rows.quarantined", "rows.blank", "rows.input_duplicates"],
    )?;
    Ok(())
}
