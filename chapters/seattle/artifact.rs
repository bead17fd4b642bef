//! The saved model: one JSON document holding the fitted parameters and everything needed to
//! trust and use them (features, encoder, the values each category may take, CV metrics,
//! training-data sha256, version). The chapter writes it; the API loads it into a
//! [`Predictor`] and serves it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_regressor::RandomForestRegressor;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::LinearRegression;

use super::model::{Building, Encoder, Fitted, Kind, Scores, Standardizer, CATEGORICAL};

/// Cross-validation summary stored with the model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CvSummary {
    pub folds: usize,
    pub seed: u64,
    pub mean: Scores,
    pub per_fold: Vec<Scores>,
}

/// The model file's metadata: everything but the fitted parameters. `GET /model` answers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelMetadata {
    pub model: Kind,
    pub version: String,
    pub target: String,
    pub features: Vec<String>,
    pub encoder: Encoder,
    /// Every value each categorical input took in the training rows: the API's enumerations.
    pub domains: BTreeMap<String, Vec<String>>,
    pub cv: CvSummary,
    pub training_rows: usize,
    pub training_data_sha256: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDocument {
    pub metadata: ModelMetadata,
    /// smartcore's own serialisation of the fitted model.
    pub parameters: serde_json::Value,
    /// The linear model's column scaling (the forest has none).
    pub standardizer: Option<Standardizer>,
}

impl ModelDocument {
    /// Reads and checks a model file; the error names the file.
    pub fn load(path: &Path) -> Result<ModelDocument, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("model file {}: {e}", path.display()))?;
        let doc: ModelDocument = serde_json::from_slice(&bytes)
            .map_err(|e| format!("model file {}: not a model document: {e}", path.display()))?;
        for c in CATEGORICAL {
            if !doc.metadata.domains.contains_key(c) {
                return Err(format!(
                    "model file {}: no domain for `{c}`",
                    path.display()
                ));
            }
        }
        Ok(doc)
    }
}

/// A loaded model, ready to predict.
pub struct Predictor {
    pub metadata: ModelMetadata,
    fitted: Fitted,
}

impl Predictor {
    pub fn from_document(doc: ModelDocument) -> Result<Predictor, String> {
        let fitted = match doc.metadata.model {
            Kind::RandomForest => {
                let f: RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>> =
                    serde_json::from_value(doc.parameters)
                        .map_err(|e| format!("random forest parameters: {e}"))?;
                Fitted::Forest(f)
            }
            Kind::Linear => {
                let l: LinearRegression<f64, f64, DenseMatrix<f64>, Vec<f64>> =
                    serde_json::from_value(doc.parameters)
                        .map_err(|e| format!("linear parameters: {e}"))?;
                Fitted::Linear(
                    l,
                    doc.standardizer
                        .ok_or("linear model without its standardizer")?,
                )
            }
        };
        let width = doc.metadata.encoder.names().len();
        if width != doc.metadata.features.len() {
            return Err(format!(
                "the encoder makes {width} features, the file lists {}",
                doc.metadata.features.len()
            ));
        }
        Ok(Predictor {
            metadata: doc.metadata,
            fitted,
        })
    }

    /// Predicted intensity on the model's scale, ln(1 + kg CO2e per sq ft), for each building.
    pub fn predict_log1p(&self, buildings: &[Building]) -> Result<Vec<f64>, String> {
        let x: Vec<Vec<f64>> = buildings
            .iter()
            .map(|b| self.metadata.encoder.encode(&b.row(f64::NAN)))
            .collect();
        self.fitted.predict(&x)
    }

    /// Predictions for rows already encoded (the chapter's round-trip check).
    pub fn predict_encoded(&self, x: &[Vec<f64>]) -> Result<Vec<f64>, String> {
        self.fitted.predict(x)
    }
}
