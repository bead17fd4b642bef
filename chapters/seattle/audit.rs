//! Seattle's steps, each writing its findings: the training set (load, filters, imputation,
//! dictionary), the cross-validation of both models, the choice, the charts, the saved model
//! (and that it loads back), and the API's rules.

use super::artifact::{CvSummary, ModelDocument, ModelMetadata, Predictor};
use super::model::{Building, Kind, Row};
use crate::chapter::RunContext;
use crate::dataset::sha256_bytes;
use crate::dictionary;
use crate::error::{Error, Result};
use crate::frame::{get_f64, get_i64, get_text};
use crate::notebook::{Artifact, Notebook, Source, Status, Value};
use crate::render::chart::{self, ScatterChart};
use crate::sql::SqlSession;
use polars::prelude::{Column, DataFrame};

use super::model;
use super::CHAPTER;
use super::{api, validate, DATA};

/// The values the training set imputes, per column and rule (`imputed.sql`), counted and
/// shown; `checks` ties their scope to the training set's rows.
pub(super) fn imputed(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let q = "imputed";
    let frame = db.query(q)?;
    let mut values = 0i64;
    let mut columns = 0i64;
    let mut scopes = std::collections::BTreeSet::new();
    for row in 0..frame.height() {
        let n = get_i64(&frame, q, row, "imputed")?;
        values += n;
        columns += i64::from(n > 0);
        scopes.insert(get_i64(&frame, q, row, "rows_in_scope")?);
    }
    nb.add_finding(
        "imputed.values",
        Value::Int(values),
        Some("values"),
        Source::query(q),
    )?;
    nb.add_finding(
        "imputed.columns",
        Value::Int(columns),
        Some("columns"),
        Source::query(q),
    )?;
    // One scope for every rule (one CTE): more than one count would be a broken query.
    let scope = match scopes.into_iter().collect::<Vec<_>>().as_slice() {
        [one] => *one,
        _ => -1,
    };
    nb.add_finding(
        "imputed.rows_in_scope",
        Value::Int(scope),
        Some("rows"),
        Source::query(q),
    )?;
    nb.add_table(q, frame, Source::query(q))
}

/// The columns of `training_set` the model reads as features (see `training_rows`).
pub(super) const MODEL_COLUMNS: [&str; 13] = [
    "building_type",
    "primary_property_type",
    "neighborhood",
    "largest_use_type",
    "year_built",
    "number_of_buildings",
    "number_of_floors",
    "gfa_total_sqft",
    "gfa_parking_sqft",
    "gfa_building_sqft",
    "largest_use_gfa_sqft",
    "latitude",
    "longitude",
];

/// Words of the file's column names that mark an energy or emission measurement.
pub(super) const LEAKY: [&str; 6] = ["eui", "energy", "electricity", "gas", "steam", "ghg"];

/// Rows of the training set, as the model reads them: each one a [`Building`] made into a
/// model row by the same function the API uses.
pub(super) fn training_rows(frame: &DataFrame) -> Result<Vec<Row>> {
    let q = "training_set";
    (0..frame.height())
        .map(|r| {
            let f = |c: &str| get_f64(frame, q, r, c);
            let t = |c: &str| get_text(frame, q, r, c).map(Option::unwrap_or_default);
            let building = Building {
                building_type: t("building_type")?,
                primary_property_type: t("primary_property_type")?,
                neighborhood: t("neighborhood")?,
                largest_use_type: t("largest_use_type")?,
                year_built: f("year_built")?,
                number_of_buildings: f("number_of_buildings")?,
                number_of_floors: f("number_of_floors")?,
                gfa_total_sqft: f("gfa_total_sqft")?,
                gfa_parking_sqft: f("gfa_parking_sqft")?,
                gfa_building_sqft: f("gfa_building_sqft")?,
                largest_use_gfa_sqft: f("largest_use_gfa_sqft")?,
                latitude: f("latitude")?,
                longitude: f("longitude")?,
            };
            let row = building.row(f("target_log1p")?);
            // A value DuckDB reads as NaN or infinite ("NaN", "inf") would reach the model
            // and break its solver: refused here, naming the building and the field.
            if let Some(i) = row
                .numeric
                .iter()
                .position(|v| !v.is_finite())
                .or((!row.target.is_finite()).then_some(usize::MAX))
            {
                let field = model::NUMERIC.get(i).copied().unwrap_or("target_log1p");
                let id = get_text(frame, q, r, "building_id")?.unwrap_or_default();
                return Err(Error::Data {
                    chapter: CHAPTER.into(),
                    file: DATA.into(),
                    row: None,
                    message: format!("building {id}: `{field}` is not a finite number"),
                });
            }
            Ok(row)
        })
        .collect()
}

pub(super) fn cv_table(results: &[model::CrossValidation]) -> Result<DataFrame> {
    let (mut m, mut fold, mut r2, mut mae, mut rmse) = (vec![], vec![], vec![], vec![], vec![]);
    for cv in results {
        for (i, s) in cv.per_fold.iter().enumerate() {
            m.push(cv.kind.name().to_string());
            fold.push((i + 1).to_string());
            r2.push((s.r2 * 1e4).round() / 1e4);
            mae.push((s.mae * 1e4).round() / 1e4);
            rmse.push((s.rmse * 1e4).round() / 1e4);
        }
        m.push(cv.kind.name().to_string());
        fold.push("mean".to_string());
        r2.push((cv.mean.r2 * 1e4).round() / 1e4);
        mae.push((cv.mean.mae * 1e4).round() / 1e4);
        rmse.push((cv.mean.rmse * 1e4).round() / 1e4);
    }
    DataFrame::new(vec![
        Column::new("model".into(), m),
        Column::new("fold".into(), fold),
        Column::new("r2".into(), r2),
        Column::new("mae_log1p".into(), mae),
        Column::new("rmse_log1p".into(), rmse),
    ])
    .map_err(Error::within(CHAPTER))
}

pub(super) fn charts(nb: &mut Notebook, rows: &[Row], best: &model::CrossValidation) -> Result<()> {
    let pairs: Vec<(f64, f64)> = rows
        .iter()
        .zip(&best.out_of_fold)
        .map(|(r, p)| (r.target, *p))
        .collect();
    let source = crate::function_source!(crate::chapters::seattle::model::cross_validate);
    let svg = chart::scatter_chart(&ScatterChart {
        title: "Out-of-fold prediction against the truth (log1p of kg CO2e per sq ft)",
        x_label: "actual",
        y_label: "predicted",
        points: pairs.clone(),
        reference_line: Some(true),
    })
    .map_err(Error::within(CHAPTER))?;
    nb.add_chart("predicted_vs_actual", "Each building's prediction by a model that never saw it, against its measured intensity; the line is a perfect prediction.", svg, source.clone())?;
    let residuals: Vec<(f64, f64)> = pairs.iter().map(|(a, p)| (*p, a - p)).collect();
    let svg = chart::scatter_chart(&ScatterChart {
        title: "Residuals (actual − predicted) against the prediction",
        x_label: "predicted",
        y_label: "residual",
        points: residuals,
        reference_line: Some(false),
    })
    .map_err(Error::within(CHAPTER))?;
    nb.add_chart(
        "residuals",
        "Residuals of the out-of-fold predictions: no structure left is what a good model leaves.",
        svg,
        source,
    )?;
    Ok(())
}

/// The chosen model fitted on every row, saved as JSON with its metadata.
pub(super) fn save_model(
    ctx: &RunContext,
    nb: &mut Notebook,
    rows: &[Row],
    encoder: &model::Encoder,
    best: &model::CrossValidation,
    seed: u64,
    trees: usize,
) -> Result<()> {
    let x: Vec<Vec<f64>> = rows.iter().map(|r| encoder.encode(r)).collect();
    let y: Vec<f64> = rows.iter().map(|r| r.target).collect();
    let mut started = std::time::Instant::now();
    let fitted = model::fit(best.kind, &x, &y, seed, trees).map_err(Error::within(CHAPTER))?;
    // Fit time is wall-clock: it goes to `bench` through the profile channel, never to the book.
    crate::progress::profile(CHAPTER, &format!("fit_{}", best.kind.name()), &mut started);
    let (parameters, standardizer) = match &fitted {
        model::Fitted::Forest(f) => (serde_json::to_value(f), None),
        model::Fitted::Linear(l, s) => (serde_json::to_value(l), Some(s.clone())),
    };
    let parameters = parameters.map_err(Error::failed(CHAPTER, "model serialisation"))?;
    let domains = model::CATEGORICAL
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let values: std::collections::BTreeSet<&String> =
                rows.iter().map(|r| &r.categories[c]).collect();
            (name.to_string(), values.into_iter().cloned().collect())
        })
        .collect();
    let document = ModelDocument {
        metadata: ModelMetadata {
            model: best.kind,
            version: env!("CARGO_PKG_VERSION").to_string(),
            target: "ln(1 + GHGEmissionsIntensity)".to_string(),
            features: encoder.names(),
            encoder: encoder.clone(),
            domains,
            cv: CvSummary {
                folds: best.per_fold.len(),
                seed,
                mean: best.mean,
                per_fold: best.per_fold.clone(),
            },
            training_rows: rows.len(),
            training_data_sha256: nb.datasets.first().map(|d| d.sha256.clone()),
        },
        parameters,
        standardizer,
    };
    let bytes = serde_json::to_vec(&document).expect("model document serialises");
    std::fs::create_dir_all(&ctx.artifact_dir).map_err(Error::io(&ctx.artifact_dir))?;
    let path = ctx.artifact_dir.join("model.json");
    // Written beside, under a name of its own, and renamed: a server or test reading the
    // model never sees half a file, and two runs writing it at once never share a file.
    let mut partial =
        tempfile::NamedTempFile::new_in(&ctx.artifact_dir).map_err(Error::io(&ctx.artifact_dir))?;
    std::io::Write::write_all(&mut partial, &bytes).map_err(Error::io(partial.path()))?;
    partial
        .persist(&path)
        .map_err(|e| Error::io(&path)(e.error))?;
    nb.artifacts.insert(
        "model".into(),
        Artifact {
            name: "model".into(),
            file: "model.json".into(),
            sha256: sha256_bytes(&bytes),
        },
    );

    // The file is what the API serves: read it back and predict every training row again.
    let served = ctx.input_dir(&ctx.artifact_dir)?.join("model.json");
    let reloaded = ModelDocument::load(&served).and_then(Predictor::from_document);
    let round_trip = match reloaded {
        Ok(p) => {
            let again = p.predict_encoded(&x);
            let before = fitted.predict(&x).map_err(Error::within(CHAPTER))?;
            match again {
                Ok(a) if a == before => Status::Passed,
                Ok(a) => {
                    let differ = a.iter().zip(&before).filter(|(x, y)| x != y).count();
                    let first = a.iter().zip(&before).position(|(x, y)| x != y).unwrap_or(0);
                    Status::Failed(format!("{differ} of {} predictions differ after reloading model.json; first: training row {first}, {} then {}", a.len(), before[first], a[first]))
                }
                Err(e) => Status::Failed(format!(
                    "reloaded model cannot predict: {}",
                    crate::error::one_line(&e)
                )),
            }
        }
        Err(e) => Status::Failed(format!(
            "model.json cannot be loaded back: {}",
            crate::error::one_line(&e)
        )),
    };
    nb.add_check(
        "model.artifact_round_trips",
        "the saved model file, loaded as the API loads it, predicts every training row exactly as the fitted model",
        round_trip,
        &["model.chosen", "model.training_rows"],
    )?;
    Ok(())
}

/// The API's input rules as a table, each rule broken once against the saved model's own
/// domains (the answer must name that field), and the example body predicted.
pub(super) fn document_api(nb: &mut Notebook, model_path: &std::path::Path) -> Result<()> {
    use super::validate::FIELDS;
    let predictor = ModelDocument::load(model_path)
        .and_then(Predictor::from_document)
        .map_err(Error::within(CHAPTER))?;
    let domains = &predictor.metadata.domains;
    let source = crate::function_source!(crate::chapters::seattle::validate::FIELDS);
    let (mut name, mut kind, mut required, mut accepted) = (vec![], vec![], vec![], vec![]);
    for f in FIELDS {
        name.push(f.name.to_string());
        required.push(if f.required { "yes" } else { "no" }.to_string());
        let (k, a) = f.rule.describe(domains);
        kind.push(k.to_string());
        accepted.push(format!("{a}; {}", f.help));
    }
    let table = DataFrame::new(vec![
        Column::new("field".into(), name),
        Column::new("type".into(), kind),
        Column::new("required".into(), required),
        Column::new("accepted".into(), accepted),
    ])
    .map_err(Error::within(CHAPTER))?;
    nb.add_table("api_fields", table, source.clone())?;

    let example = validate::example(domains);
    let mut problems = Vec::new();
    let building = match validate::building(&example, "", domains) {
        Ok(b) => Some(b),
        Err(e) => {
            problems.push(format!("the example body is rejected: {e:?}"));
            None
        }
    };
    let mut broken: Vec<(String, serde_json::Value)> = FIELDS
        .iter()
        .map(|f| {
            let mut body = example.clone();
            body[f.name] = f.rule.broken_value();
            (f.name.to_string(), body)
        })
        .collect();
    let mut unknown = example.clone();
    unknown["energy_use_kbtu"] = serde_json::Value::from(1.0);
    broken.push(("energy_use_kbtu".to_string(), unknown));
    for f in FIELDS.iter().filter(|f| f.required) {
        let mut body = example.clone();
        body.as_object_mut()
            .expect("the example is an object")
            .remove(f.name);
        broken.push((f.name.to_string(), body));
    }
    for (field, body) in &broken {
        match validate::building(body, "", domains) {
            Ok(_) => problems.push(format!("{field}: a broken value is accepted")),
            Err(errors) if !errors.iter().any(|e| e.field == *field) => {
                problems.push(format!("{field}: rejected, but the errors name {errors:?}"))
            }
            Err(_) => {}
        }
    }
    nb.add_finding(
        "api.batch_max",
        Value::count(api::BATCH_MAX),
        Some("buildings"),
        crate::function_source!(crate::chapters::seattle::api::BATCH_MAX),
    )?;
    nb.add_finding(
        "api.body_limit_kib",
        Value::count(api::SINGLE_LIMIT / 1024),
        Some("KiB"),
        crate::function_source!(crate::chapters::seattle::api::SINGLE_LIMIT),
    )?;
    nb.add_finding(
        "api.batch_body_limit_kib",
        Value::count(api::BATCH_LIMIT / 1024),
        Some("KiB"),
        crate::function_source!(crate::chapters::seattle::api::BATCH_LIMIT),
    )?;
    nb.add_finding(
        "api.rules_exercised",
        Value::Int(broken.len() as i64),
        Some("bodies"),
        source.clone(),
    )?;
    // The validator's code, not the data, decides this: a problem is a bug in the chapter
    // (an invariant, not a counted check; no fault of the input can reach it).
    let Some(building) = building.filter(|_| problems.is_empty()) else {
        return Err(Error::chapter(
            CHAPTER,
            format!(
                "the API's validator breaks its own rules: {}",
                problems.join("; ")
            ),
        ));
    };
    nb.add_finding(
        "api.example_building",
        Value::Text(format!(
            "{} of {} built in {}, {} floors",
            building.primary_property_type,
            group(building.gfa_total_sqft),
            building.year_built,
            building.number_of_floors
        )),
        None,
        crate::function_source!(crate::chapters::seattle::validate::example),
    )?;
    let log1p = predictor
        .predict_log1p(&[building])
        .map_err(Error::within(CHAPTER))?[0];
    nb.add_finding(
        "api.example_intensity",
        Value::float(log1p.exp_m1(), 3),
        Some("kg CO2e/sq ft"),
        crate::function_source!(crate::chapters::seattle::artifact::Predictor::predict_log1p),
    )?;
    Ok(())
}

/// Square feet with thousands separators.
pub(super) fn group(sqft: f64) -> String {
    format!(
        "{} sq ft",
        crate::frame::group_digits(&format!("{:.0}", sqft))
    )
}

/// Loads the file, applies the filters (each step's rows counted), builds the training set
/// and documents it: the rows the model trains on.
pub(super) fn training_set(nb: &mut Notebook, db: &mut SqlSession) -> Result<Vec<Row>> {
    db.execute("load")?;
    let width = db.query("source_columns")?;
    nb.add_finding(
        "data.columns",
        Value::Int(get_i64(&width, "source_columns", 0, "columns")?),
        Some("columns"),
        Source::query("source_columns"),
    )?;
    let filters = db.query("filters")?;
    for row in 0..filters.height() {
        let step = get_i64(&filters, "filters", row, "step")?;
        nb.add_finding(
            &format!("filters.step{step}_rows"),
            Value::Int(get_i64(&filters, "filters", row, "rows_left")?),
            Some("rows"),
            Source::query("filters"),
        )?;
    }
    nb.add_table("filters", filters, Source::query("filters"))?;
    let training = db.query("training_set")?;
    let rows = training_rows(&training)?;
    nb.add_finding(
        "model.training_rows",
        Value::Int(rows.len() as i64),
        Some("rows"),
        Source::query("training_set"),
    )?;
    imputed(nb, db)?;
    dictionary::document(nb, db)?;
    Ok(rows)
}

/// Both models cross-validated on the same folds, their mean scores as findings and the
/// table of every fold.
pub(super) fn cross_validation(
    nb: &mut Notebook,
    rows: &[Row],
    k: usize,
    seed: u64,
    trees: usize,
) -> Result<Vec<model::CrossValidation>> {
    nb.add_finding(
        "cv.folds",
        Value::Int(k as i64),
        Some("folds"),
        crate::function_source!(crate::chapters::seattle::model::folds),
    )?;
    let mut results = Vec::new();
    for kind in [Kind::Linear, Kind::RandomForest] {
        let cv = model::cross_validate(kind, rows, k, seed, trees)
            .map_err(Error::failed(CHAPTER, kind.name()))?;
        let source = crate::function_source!(crate::chapters::seattle::model::cross_validate);
        for (metric, value) in [
            ("r2", cv.mean.r2),
            ("mae", cv.mean.mae),
            ("rmse", cv.mean.rmse),
        ] {
            nb.add_finding(
                &format!("cv.{}.{metric}_mean", kind.name()),
                Value::float(value, 4),
                None,
                source.clone(),
            )?;
        }
        results.push(cv);
    }
    nb.add_table(
        "cv_scores",
        cv_table(&results)?,
        crate::function_source!(crate::chapters::seattle::model::cross_validate),
    )?;
    Ok(results)
}

/// The model with the highest mean R², named with its score.
pub(super) fn choose<'a>(
    nb: &mut Notebook,
    results: &'a [model::CrossValidation],
) -> Result<&'a model::CrossValidation> {
    let best = results
        .iter()
        .max_by(|a, b| a.mean.r2.total_cmp(&b.mean.r2))
        .expect("two models");
    nb.add_finding(
        "model.chosen",
        Value::Text(best.kind.name().to_string()),
        None,
        crate::function_source!(crate::chapters::seattle::audit::choose; "highest mean R²"),
    )?;
    nb.add_finding(
        "model.chosen_r2_mean",
        Value::float(best.mean.r2, 4),
        None,
        crate::function_source!(crate::chapters::seattle::model::cross_validate),
    )?;
    Ok(best)
}

/// The encoder the saved model uses, fitted on every training row; its width as findings.
pub(super) fn encoder(nb: &mut Notebook, rows: &[Row]) -> Result<model::Encoder> {
    let encoder = model::Encoder::fit(rows);
    let names = encoder.names();
    nb.add_finding(
        "model.features",
        Value::Int(names.len() as i64),
        Some("features"),
        crate::function_source!(crate::chapters::seattle::model::Encoder::names),
    )?;
    nb.add_finding(
        "model.rare_category_rows",
        Value::Int(model::RARE as i64),
        Some("rows"),
        crate::function_source!(crate::chapters::seattle::model::Encoder::fit),
    )?;
    Ok(encoder)
}
