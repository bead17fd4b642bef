//! Seattle's checks: the model beats the baseline, never reads a leaky column, trains on the
//! rows the filters leave, imputes within its scope, and its API refuses what it should.

use crate::error::Result;
use crate::notebook::{Notebook, Status};

use super::audit::{LEAKY, MODEL_COLUMNS};
use super::model;
use super::{lineage, CHAPTER};

/// Every check of the chapter, once the model is saved and its API documented.
pub(super) fn all(nb: &mut Notebook, results: &[model::CrossValidation]) -> Result<()> {
    let steps: Vec<i64> = (1..=4)
        .map(|s| nb.int(&format!("filters.step{s}_rows")))
        .collect::<Result<_>>()?;
    let monotone = steps.windows(2).all(|w| w[1] <= w[0]) && steps.iter().all(|s| *s >= 0);
    let rows = nb.int("model.training_rows")?;
    let imputed_over = nb.int("imputed.rows_in_scope")?;
    nb.add_check(
        "imputed.same_scope",
        "the imputed values are counted over exactly the training set's rows",
        Status::of(imputed_over == rows, || {
            format!("imputed counted over {imputed_over} rows, the training set has {rows}")
        }),
        &["imputed.rows_in_scope", "model.training_rows"],
    )?;
    nb.add_check(
        "filters.counted",
        "each filter only removes rows, and the last one leaves exactly the training rows",
        if monotone && steps[3] == rows {
            Status::Passed
        } else {
            Status::Failed(format!(
                "rows after each step: {steps:?}, training rows {rows}"
            ))
        },
        &[
            "filters.step1_rows",
            "filters.step2_rows",
            "filters.step3_rows",
            "filters.step4_rows",
            "model.training_rows",
        ],
    )?;
    // Traced through the queries as they ran, to the file's own column names.
    let text = |name: &str| crate::embedded::chapter_file(CHAPTER, name).unwrap_or_default();
    let sources = lineage::sources(text("load.sql"), text("training_set.sql"));
    let mut leaky = Vec::new();
    for column in MODEL_COLUMNS {
        match sources.get(column) {
            None => leaky.push(format!("{column} is not a column of training_set")),
            Some(from) => leaky.extend(
                from.iter()
                    .filter(|f| LEAKY.iter().any(|l| f.to_lowercase().contains(l)))
                    .map(|f| format!("{column} comes from the file's `{f}`")),
            ),
        }
    }
    nb.add_check(
        "features.no_energy_columns",
        "no column the model reads is computed from an energy or emission measurement of the file (they would leak the target), traced through the queries to the file's columns",
        if leaky.is_empty() { Status::Passed } else { Status::Failed(format!("leaky features: {}", leaky.join("; "))) },
        &["model.features"],
    )?;
    let best = results.iter().map(|cv| cv.mean.r2).fold(f64::MIN, f64::max);
    nb.add_check(
        "cv.r2_floor",
        "the chosen model's mean cross-validated R² on log1p intensity is at least 0.30",
        if best >= 0.30 {
            Status::Passed
        } else {
            Status::Failed(format!("mean R² {best:.4}"))
        },
        &["model.chosen_r2_mean"],
    )?;
    Ok(())
}
