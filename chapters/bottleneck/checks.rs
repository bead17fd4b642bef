//! BottleNeck's checks: one per `stop` gate of the flow (the gate's query found no rows), and the
//! check that each trap the generator planted is counted by its gate and each cleaning step
//! keeps what the generator says it should.

use crate::error::Result;
use crate::flow::spec::OnFail;
use crate::flow::RunReport;
use crate::notebook::{Notebook, Status};

use super::generate;

/// One check per `stop` gate that ran: the gate's query found no rows. A failed gate's
/// detail shows the rows it found. (`report` gates profile the raw exports: their counts
/// are checked against the generator by `traps.each_caught`.)
pub(super) fn gate_checks(nb: &mut Notebook, report: &RunReport) -> Result<()> {
    for (_, g) in report.gates().filter(|(_, g)| g.on_fail == OnFail::Stop) {
        let status = Status::of(g.passed(), || {
            let rows: Vec<String> = g
                .sample
                .iter()
                .take(5)
                .map(|row| {
                    g.columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| format!("{c}={}", v.as_deref().unwrap_or("null")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect();
            format!("{} row(s) found: {}", g.failing, rows.join("; "))
        });
        nb.add_check(
            &format!("gate.{}", g.id),
            &g.description,
            status,
            &["flow.gates"],
        )?;
    }
    Ok(())
}

/// Each planted trap counted by its gate, each cleaning step keeping what the generator
/// says, the revenue the generator's own total.
pub(super) fn traps(nb: &mut Notebook, planted: Option<&generate::Planted>) -> Result<()> {
    let total = nb.decimal("revenue.total")?;
    let status = match planted {
        None => Status::NotApplicable("the data was given with --data: nothing was planted".into()),
        Some(p) => {
            let expected: [(&str, i64); 14] = [
                ("trap.erp_raw_negative_price", p.negative_prices as i64),
                ("trap.erp_raw_negative_stock", p.negative_stocks as i64),
                (
                    "trap.erp_raw_status_contradicts_quantity",
                    p.contradicting_status as i64,
                ),
                ("trap.web_raw_empty_rows", p.blank_rows as i64),
                ("trap.web_raw_missing_sku", p.missing_skus as i64),
                ("trap.web_raw_exact_duplicates", p.duplicate_rows as i64),
                ("trap.web_raw_attachment_rows", p.web_products as i64),
                (
                    "trap.web_raw_attachment_sales_differ",
                    p.attachment_sales_differ as i64,
                ),
                ("trap.web_raw_gift_cards", p.gift_cards as i64),
                ("trap.links_raw_missing_id_web", p.missing_links as i64),
                ("rows.erp_clean", p.erp_rows as i64),
                ("rows.web_raw", p.web_rows as i64),
                ("rows.web_clean", p.web_products as i64),
                ("rows.reconciled", p.reconciled as i64),
            ];
            let mut wrong = Vec::new();
            for (key, planted) in expected {
                let found = nb.int(key)?;
                if found != planted {
                    wrong.push(format!("{key}: found {found}, planted {planted}"));
                }
            }
            if total != p.revenue {
                wrong.push(format!("revenue {total}, generator's truth {}", p.revenue));
            }
            Status::of(wrong.is_empty(), || wrong.join("; "))
        }
    };
    nb.add_check(
        "traps.each_caught",
        "each planted trap is counted by its gate, each cleaning step keeps what the generator says it should, and the revenue is the generator's own total",
        status,
        &["trap.web_raw_empty_rows", "trap.web_raw_exact_duplicates", "trap.links_raw_missing_id_web", "rows.reconciled", "revenue.total"],
    )?;
    Ok(())
}
