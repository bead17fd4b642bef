//! Chapter 2 on the real DVF data: the answers are snapshotted; the model conserves rows and
//! its per-region counts add up, at scale 1 and on generated copies.

use auditbook::notebook::{Status, Value};
use proptest::prelude::*;

use super::run;

fn int(nb: &auditbook::notebook::Notebook, key: &str) -> i64 {
    match &nb.findings[key].value {
        Value::Int(v) => *v,
        other => panic!("{key} is {other:?}"),
    }
}

#[test]
fn the_real_extract_loads_with_every_rejection_explained() {
    let nb = run("laplace_immo", &[], None);
    assert_eq!(int(&nb, "load.dvf_rows_read"), 34169);
    assert_eq!(
        int(&nb, "load.dvf_rows_loaded") + int(&nb, "load.dvf_rows_rejected"),
        34169
    );
    // The 18 sales without a value are sales all the same: loaded, with no value, and
    // counted by the counting questions; no row is rejected for it any more.
    assert_eq!(int(&nb, "load.sales_without_value"), 18);
    let report = &nb.tables["load_report"].frame;
    let rows = auditbook::frame::rows_json(report);
    assert!(
        rows.iter()
            .all(|r| r["outcome"] != "no value (Valeur fonciere empty)"),
        "{rows:?}"
    );
    // Q1 counts every apartment sold, priced or not; Q6 ranks priced ones only.
    let Value::Rows(top) = &nb.findings["q6.answer"].value else {
        panic!()
    };
    assert!(top.iter().all(|r| !r["value_eur"].is_null()), "{top:?}");
    assert!(nb.failures().is_empty(), "{:?}", nb.failures());
    assert!(nb.checks.iter().all(|c| c.status == Status::Passed));
}

#[test]
fn leading_zeros_are_restored() {
    let nb = run("laplace_immo", &[], None);
    // Q11 names departments 06, 13, 33, 59 and 69 with their leading zero.
    let Value::Rows(rows) = &nb.findings["q11.answer"].value else {
        panic!()
    };
    assert!(
        rows.iter().any(|r| r["code_department"] == "06"),
        "{rows:?}"
    );
    assert_eq!(rows.len(), 15);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(3), ..ProptestConfig::default() })]

    /// Generated copies: rows are conserved and regions add up to the national count.
    #[test]
    fn the_model_conserves_rows_at_any_scale(scale in 2u32..4, seed in 0u64..10_000) {
        let nb = run("laplace_immo", &[("scale", &scale.to_string()), ("seed", &seed.to_string())], None);
        let loaded = int(&nb, "load.dvf_rows_loaded");
        let real = loaded / scale as i64;
        prop_assert_eq!(int(&nb, "load.dvf_rows_generated"), real * (scale as i64 - 1));
        prop_assert_eq!(int(&nb, "load.dvf_rows_read") + int(&nb, "load.dvf_rows_generated"), loaded + int(&nb, "load.dvf_rows_rejected"));
        prop_assert!(nb.failures().is_empty(), "{:?}", nb.failures());
    }
}
