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

use super::model::{
    Building, Encoder, Fitted, Kind, ModelError, Scores, Standardizer, CATEGORICAL,
};

/// Cross-validation summary stored with the model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CvSummary {
    /// Folds.
    pub folds: usize,
    /// Seed of the fold assignment.
    pub seed: u64,
    /// Scores averaged over the folds.
    pub mean: Scores,
    /// Scores of each fold.
    pub per_fold: Vec<Scores>,
}

/// The model file's metadata: everything but the fitted parameters. `GET /model` answers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelMetadata {
    /// The kind of model.
    pub model: Kind,
    /// The auditbook version that trained it.
    pub version: String,
    /// What it predicts: `log1p(GHGEmissionsIntensity)`.
    pub target: String,
    /// The input columns, in matrix order.
    pub features: Vec<String>,
    /// How rows become those columns.
    pub encoder: Encoder,
    /// Every value each categorical input took in the training rows: the API's enumerations.
    pub domains: BTreeMap<String, Vec<String>>,
    /// Its cross-validation.
    pub cv: CvSummary,
    /// Rows it was trained on.
    pub training_rows: usize,
    /// sha256 of the training data file, when it came from one.
    pub training_data_sha256: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDocument {
    /// What the file says of the model.
    pub metadata: ModelMetadata,
    /// smartcore's own serialisation of the fitted model.
    pub parameters: serde_json::Value,
    /// The linear model's column scaling (the forest has none).
    pub standardizer: Option<Standardizer>,
}

/// Why a model file cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] crate::Error),
    /// The file is not a model document.
    #[error("model file {}: not a model document", path.display())]
    NotAModel {
        /// The file.
        path: std::path::PathBuf,
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The document lacks what the API validates against, or its parts disagree.
    #[error("model file: {0}")]
    Incomplete(String),
    /// smartcore's parameters do not deserialise.
    #[error("the {model} parameters")]
    Parameters {
        /// The model kind.
        model: &'static str,
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
}

impl ModelDocument {
    /// Reads and checks a model file; the error names the file.
    pub fn load(path: &Path) -> Result<ModelDocument, ArtifactError> {
        let bytes = std::fs::read(path).map_err(crate::Error::io(path))?;
        let doc: ModelDocument =
            serde_json::from_slice(&bytes).map_err(|source| ArtifactError::NotAModel {
                path: path.to_path_buf(),
                source,
            })?;
        for c in CATEGORICAL {
            if !doc.metadata.domains.contains_key(c) {
                return Err(ArtifactError::Incomplete(format!(
                    "{}: no domain for `{c}`",
                    path.display()
                )));
            }
        }
        Ok(doc)
    }
}

/// A loaded model, ready to predict.
pub struct Predictor {
    /// What the file says of the model.
    pub metadata: ModelMetadata,
    fitted: Fitted,
}

impl Predictor {
    /// The model a document describes, checked to be whole.
    pub fn from_document(doc: ModelDocument) -> Result<Predictor, ArtifactError> {
        let parameters = |model: &'static str| {
            move |source: serde_json::Error| ArtifactError::Parameters { model, source }
        };
        let fitted = match doc.metadata.model {
            Kind::RandomForest => {
                let f: RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>> =
                    serde_json::from_value(doc.parameters).map_err(parameters("random forest"))?;
                Fitted::Forest(f)
            }
            Kind::Linear => {
                let l: LinearRegression<f64, f64, DenseMatrix<f64>, Vec<f64>> =
                    serde_json::from_value(doc.parameters).map_err(parameters("linear"))?;
                Fitted::Linear(
                    l,
                    doc.standardizer.ok_or_else(|| {
                        ArtifactError::Incomplete("linear model without its standardizer".into())
                    })?,
                )
            }
        };
        let width = doc.metadata.encoder.names().len();
        if width != doc.metadata.features.len() {
            return Err(ArtifactError::Incomplete(format!(
                "the encoder makes {width} features, the file lists {}",
                doc.metadata.features.len()
            )));
        }
        Ok(Predictor {
            metadata: doc.metadata,
            fitted,
        })
    }

    /// Predicted intensity on the model's scale, ln(1 + kg CO2e per sq ft), for each building.
    pub fn predict_log1p(&self, buildings: &[Building]) -> Result<Vec<f64>, ModelError> {
        let x: Vec<Vec<f64>> = buildings
            .iter()
            .map(|b| self.metadata.encoder.encode(&b.row(f64::NAN)))
            .collect();
        self.fitted.predict(&x)
    }

    /// Predictions for rows already encoded (the chapter's round-trip check).
    pub fn predict_encoded(&self, x: &[Vec<f64>]) -> Result<Vec<f64>, ModelError> {
        self.fitted.predict(x)
    }
}
