//! The model: a design matrix of structural features (numbers on log scales, categories
//! one-hot), a linear baseline and a random forest from smartcore, compared by 5-fold
//! cross-validation with a fixed seed. Every score is computed on folds the model did not
//! see; the chosen model is then fitted on every row and saved with its metadata.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{
    LinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
};

/// A building as the city describes it before any metering: what the training set holds
/// per row and what the API accepts. Both become model rows through [`Building::row`], so
/// training and serving cannot engineer features differently.
#[derive(Debug, Clone, PartialEq)]
pub struct Building {
    /// `BuildingType` (NonResidential, Campus, …).
    pub building_type: String,
    /// `PrimaryPropertyType`.
    pub primary_property_type: String,
    /// `Neighborhood`.
    pub neighborhood: String,
    /// `LargestPropertyUseType`.
    pub largest_use_type: String,
    /// `YearBuilt`.
    pub year_built: f64,
    /// `NumberofBuildings`.
    pub number_of_buildings: f64,
    /// `NumberofFloors`.
    pub number_of_floors: f64,
    /// `PropertyGFATotal`, square feet.
    pub gfa_total_sqft: f64,
    /// `PropertyGFAParking`, square feet.
    pub gfa_parking_sqft: f64,
    /// `PropertyGFABuilding(s)`, square feet.
    pub gfa_building_sqft: f64,
    /// `LargestPropertyUseTypeGFA`, square feet.
    pub largest_use_gfa_sqft: f64,
    /// `Latitude`, degrees.
    pub latitude: f64,
    /// `Longitude`, degrees.
    pub longitude: f64,
}

impl Building {
    /// The model's view of the building: areas on log scales, the parking share, and the
    /// categories in [`CATEGORICAL`] order. `target` is the log1p intensity when known.
    pub fn row(&self, target: f64) -> Row {
        let numeric = vec![
            self.year_built,
            self.number_of_buildings,
            self.number_of_floors,
            self.gfa_total_sqft.ln_1p(),
            self.gfa_parking_sqft.ln_1p(),
            self.gfa_building_sqft.ln_1p(),
            self.largest_use_gfa_sqft.ln_1p(),
            if self.gfa_total_sqft > 0.0 {
                self.gfa_parking_sqft / self.gfa_total_sqft
            } else {
                0.0
            },
            self.latitude,
            self.longitude,
        ];
        let categories = vec![
            self.building_type.clone(),
            self.primary_property_type.clone(),
            self.neighborhood.clone(),
            self.largest_use_type.clone(),
        ];
        Row {
            numeric,
            categories,
            target,
        }
    }
}

/// One building's features as the model reads them.
#[derive(Debug, Clone)]
pub struct Row {
    /// The numeric inputs, in [`NUMERIC`] order.
    pub numeric: Vec<f64>,
    /// The categorical inputs, in [`CATEGORICAL`] order.
    pub categories: Vec<String>,
    /// The target: `log1p(GHGEmissionsIntensity)` (NaN when serving: there is none).
    pub target: f64,
}

/// The names of the numeric inputs, in matrix order.
pub const NUMERIC: [&str; 10] = [
    "year_built",
    "number_of_buildings",
    "number_of_floors",
    "log1p_gfa_total",
    "log1p_gfa_parking",
    "log1p_gfa_building",
    "log1p_largest_use_gfa",
    "parking_share",
    "latitude",
    "longitude",
];
/// The names of the categorical inputs, in matrix order (after the numeric ones).
pub const CATEGORICAL: [&str; 4] = [
    "building_type",
    "primary_property_type",
    "neighborhood",
    "largest_use_type",
];

/// A category seen fewer times than this in the training rows joins `other`.
pub const RARE: usize = 5;

/// Turns rows into columns: numeric features, then one column per kept category level.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Encoder {
    /// Per categorical input, the levels kept (seen at least [`RARE`] times), in order.
    pub levels: Vec<Vec<String>>,
}

impl Encoder {
    /// Learns the levels from the training rows.
    pub fn fit(rows: &[Row]) -> Encoder {
        let levels = (0..CATEGORICAL.len())
            .map(|c| {
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for r in rows {
                    *counts.entry(r.categories[c].as_str()).or_default() += 1;
                }
                counts
                    .into_iter()
                    .filter(|(_, n)| *n >= RARE)
                    .map(|(l, _)| l.to_string())
                    .collect()
            })
            .collect();
        Encoder { levels }
    }

    /// Feature names in matrix order.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = NUMERIC.iter().map(|s| s.to_string()).collect();
        for (c, levels) in self.levels.iter().enumerate() {
            for level in levels {
                names.push(format!("{}={level}", CATEGORICAL[c]));
            }
            names.push(format!("{}=other", CATEGORICAL[c]));
        }
        names
    }

    /// The row's matrix columns: the numeric inputs, then each categorical input one-hot over its kept levels and `other`.
    pub fn encode(&self, row: &Row) -> Vec<f64> {
        let mut out = row.numeric.clone();
        for (c, levels) in self.levels.iter().enumerate() {
            let position = levels.iter().position(|l| *l == row.categories[c]);
            for i in 0..levels.len() {
                out.push(if position == Some(i) { 1.0 } else { 0.0 });
            }
            out.push(if position.is_none() { 1.0 } else { 0.0 });
        }
        out
    }
}

/// R², MAE and RMSE of predictions against the truth.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Scores {
    /// Coefficient of determination.
    pub r2: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
}

/// The scores of `predicted` against `truth`.
pub fn scores(truth: &[f64], predicted: &[f64]) -> Scores {
    let n = truth.len().max(1) as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let ss_tot: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    let ss_res: f64 = truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).powi(2))
        .sum();
    let mae = truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).abs())
        .sum::<f64>()
        / n;
    Scores {
        r2: 1.0 - ss_res / ss_tot.max(1e-12),
        mae,
        rmse: (ss_res / n).sqrt(),
    }
}

/// The models compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// Ordinary least squares on standardised columns.
    #[serde(rename = "linear_regression")]
    Linear,
    /// smartcore's random forest.
    #[serde(rename = "random_forest")]
    RandomForest,
}

impl Kind {
    /// The model's name, as the model file and the book write it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Linear => "linear_regression",
            Kind::RandomForest => "random_forest",
        }
    }
}

/// A fitted model of either kind.
pub enum Fitted {
    /// The linear model and the scaling of its columns.
    Linear(
        LinearRegression<f64, f64, DenseMatrix<f64>, Vec<f64>>,
        Standardizer,
    ),
    /// The forest.
    Forest(RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>),
}

/// Centres and scales the numeric columns with the training rows' mean and deviation, so
/// the linear model's solve is well conditioned. (The forest needs none.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Standardizer {
    mean: Vec<f64>,
    sd: Vec<f64>,
}

impl Standardizer {
    fn fit(x: &[Vec<f64>]) -> Standardizer {
        let n = x.len().max(1) as f64;
        let width = NUMERIC.len();
        let mean: Vec<f64> = (0..width)
            .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n)
            .collect();
        let sd = (0..width)
            .map(|j| {
                (x.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n)
                    .sqrt()
                    .max(1e-9)
            })
            .collect();
        Standardizer { mean, sd }
    }

    fn apply(&self, x: &[Vec<f64>]) -> Vec<Vec<f64>> {
        x.iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(j, v)| {
                        if j < self.mean.len() {
                            (v - self.mean[j]) / self.sd[j]
                        } else {
                            *v
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

/// What stops a fit, a prediction or a cross-validation.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// smartcore refused the data (`what` says which step).
    #[error("{what}")]
    Smartcore {
        /// The step.
        what: &'static str,
        /// What smartcore said.
        #[source]
        source: smartcore::error::Failed,
    },
    /// A row left without an out-of-fold prediction: the folds are wrong.
    #[error("training row {0} got no finite out-of-fold prediction")]
    NoPrediction(usize),
}

/// Names the smartcore step that failed.
fn step(what: &'static str) -> impl FnOnce(smartcore::error::Failed) -> ModelError {
    move |source| ModelError::Smartcore { what, source }
}

fn matrix(x: &[Vec<f64>]) -> Result<DenseMatrix<f64>, ModelError> {
    DenseMatrix::from_2d_vec(&x.to_vec()).map_err(step("building the feature matrix"))
}

/// Fits `kind` on `x`, `y`.
pub fn fit(
    kind: Kind,
    x: &[Vec<f64>],
    y: &[f64],
    seed: u64,
    trees: usize,
) -> Result<Fitted, ModelError> {
    match kind {
        Kind::Linear => {
            let standardizer = Standardizer::fit(x);
            let m = matrix(&standardizer.apply(x))?;
            let params =
                LinearRegressionParameters::default().with_solver(LinearRegressionSolverName::SVD);
            let model = LinearRegression::fit(&m, &y.to_vec(), params)
                .map_err(step("fitting the linear model"))?;
            Ok(Fitted::Linear(model, standardizer))
        }
        Kind::RandomForest => {
            let m = matrix(x)?;
            let params = RandomForestRegressorParameters::default()
                .with_n_trees(trees)
                .with_seed(seed)
                .with_min_samples_leaf(2);
            let model = RandomForestRegressor::fit(&m, &y.to_vec(), params)
                .map_err(step("fitting the random forest"))?;
            Ok(Fitted::Forest(model))
        }
    }
}

impl Fitted {
    /// The model's predictions for encoded rows.
    pub fn predict(&self, x: &[Vec<f64>]) -> Result<Vec<f64>, ModelError> {
        match self {
            Fitted::Linear(model, standardizer) => model
                .predict(&matrix(&standardizer.apply(x))?)
                .map_err(step("predicting with the linear model")),
            Fitted::Forest(model) => model
                .predict(&matrix(x)?)
                .map_err(step("predicting with the random forest")),
        }
    }
}

/// The folds: row indices shuffled with `seed`, cut into `k` nearly equal parts.
pub fn folds(n: usize, k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    (0..k)
        .map(|f| {
            order
                .iter()
                .copied()
                .enumerate()
                .filter(|(i, _)| i % k == f)
                .map(|(_, r)| r)
                .collect()
        })
        .collect()
}

/// Cross-validation of one model: scores per fold, and each row's out-of-fold prediction.
pub struct CrossValidation {
    /// The model.
    pub kind: Kind,
    /// Scores of each fold.
    pub per_fold: Vec<Scores>,
    /// Scores averaged over the folds.
    pub mean: Scores,
    /// Each training row's prediction by the model that did not see it.
    pub out_of_fold: Vec<f64>,
}

/// Cross-validates `kind` over `rows` in `folds` folds assigned with `seed`.
pub fn cross_validate(
    kind: Kind,
    rows: &[Row],
    k: usize,
    seed: u64,
    trees: usize,
) -> Result<CrossValidation, ModelError> {
    let mut out_of_fold = vec![f64::NAN; rows.len()];
    let mut per_fold = Vec::new();
    for test in folds(rows.len(), k, seed) {
        let in_test: std::collections::BTreeSet<usize> = test.iter().copied().collect();
        let train: Vec<&Row> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| !in_test.contains(i))
            .map(|(_, r)| r)
            .collect();
        let train_rows: Vec<Row> = train.iter().map(|r| (*r).clone()).collect();
        // The encoder learns its categories from the training fold only.
        let encoder = Encoder::fit(&train_rows);
        let x: Vec<Vec<f64>> = train_rows.iter().map(|r| encoder.encode(r)).collect();
        let y: Vec<f64> = train_rows.iter().map(|r| r.target).collect();
        let model = fit(kind, &x, &y, seed, trees)?;
        let x_test: Vec<Vec<f64>> = test.iter().map(|i| encoder.encode(&rows[*i])).collect();
        let predicted = model.predict(&x_test)?;
        let truth: Vec<f64> = test.iter().map(|i| rows[*i].target).collect();
        per_fold.push(scores(&truth, &predicted));
        for (i, p) in test.iter().zip(predicted) {
            out_of_fold[*i] = p;
        }
    }
    // Each row is in exactly one test fold by construction of `folds`: an invariant of this
    // function (not a counted check of the chapter), asserted here all the same.
    if let Some(i) = out_of_fold.iter().position(|p| !p.is_finite()) {
        return Err(ModelError::NoPrediction(i));
    }
    let n = per_fold.len() as f64;
    let mean = Scores {
        r2: per_fold.iter().map(|s| s.r2).sum::<f64>() / n,
        mae: per_fold.iter().map(|s| s.mae).sum::<f64>() / n,
        rmse: per_fold.iter().map(|s| s.rmse).sum::<f64>() / n,
    };
    Ok(CrossValidation {
        kind,
        per_fold,
        mean,
        out_of_fold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_partition_the_rows() {
        let f = folds(103, 5, 7);
        let mut all: Vec<usize> = f.concat();
        all.sort();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        assert!(f.iter().all(|fold| fold.len() == 20 || fold.len() == 21));
    }

    #[test]
    fn perfect_predictions_score_one() {
        let s = scores(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]);
        assert_eq!((s.r2, s.mae, s.rmse), (1.0, 0.0, 0.0));
    }
}
