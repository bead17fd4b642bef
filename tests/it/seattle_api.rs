//! Chapter 6's API, in-process (tower `oneshot`, no socket): valid bodies get the model's own
//! prediction, every invalid one a 4xx naming its field, and no body at all, however
//! strange, gets a 5xx.

use std::sync::{Arc, OnceLock};

use auditbook::chapters::seattle::api::{self, App};
use auditbook::chapters::seattle::validate;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

/// The model the book run saved, loaded once.
fn app() -> Arc<App> {
    static APP: OnceLock<Arc<App>> = OnceLock::new();
    APP.get_or_init(|| {
        super::book_notebooks();
        let path = super::root().join("target/auditbook/artifacts/seattle/default/model.json");
        Arc::new(App::load(&path).unwrap_or_else(|e| panic!("{e}")))
    })
    .clone()
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

/// One request through the router: the status and the body (JSON when it parses).
fn call(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value, String) {
    let router = api::router(app());
    let mut request = Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let request = request.body(Body::from(body)).unwrap();
    runtime().block_on(async {
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).to_string();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        )
    })
}

fn post(path: &str, body: &Value) -> (StatusCode, Value) {
    let (s, v, _) = call(
        "POST",
        path,
        Some("application/json"),
        body.to_string().into_bytes(),
    );
    (s, v)
}

fn example() -> Value {
    validate::example(&app().predictor.metadata.domains)
}

fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors list in {body}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_valid_building_gets_the_models_own_prediction() {
    let body = example();
    let (status, answer) = post("/predict", &body);
    assert_eq!(status, StatusCode::OK, "{answer}");
    let building = validate::building(&body, "", &app().predictor.metadata.domains).unwrap();
    let expected = app().predictor.predict_log1p(&[building]).unwrap()[0];
    assert_eq!(answer["ghg_intensity_log1p"].as_f64().unwrap(), expected);
    let intensity = answer["ghg_intensity_kg_per_sqft"].as_f64().unwrap();
    assert!(intensity.is_finite() && intensity >= 0.0);
    // The intensity is the model's answer unless it was below zero, and the answer says so.
    assert_eq!(answer["clamped_at_zero"], json!(expected < 0.0), "{answer}");
    assert_eq!(intensity, expected.exp_m1().max(0.0));
    assert!((answer["total_ghg_tonnes"].as_f64().unwrap() - intensity * 88.0).abs() < 1e-9);
    assert_eq!(answer["model"], "random_forest");
}

#[test]
fn each_invalid_field_is_answered_422_naming_it() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("year_built", json!(1700), "year_built"),
        ("year_built", json!(1985.5), "year_built"),
        ("year_built", json!("1985"), "year_built"),
        ("number_of_floors", json!(-1), "number_of_floors"),
        ("number_of_buildings", json!(1e6), "number_of_buildings"),
        ("gfa_building_sqft", json!(0), "gfa_building_sqft"),
        ("gfa_building_sqft", json!(-5.0), "gfa_building_sqft"),
        ("gfa_parking_sqft", json!(-1), "gfa_parking_sqft"),
        ("gfa_parking_sqft", json!(1e9), "gfa_parking_sqft"),
        ("largest_use_gfa_sqft", json!(0), "largest_use_gfa_sqft"),
        ("latitude", json!(48.5), "latitude"),
        ("longitude", json!(2.35), "longitude"),
        ("neighborhood", json!("Downtown"), "neighborhood"),
        (
            "building_type",
            json!("Multifamily LR (1-4)"),
            "building_type",
        ),
        ("primary_property_type", json!(7), "primary_property_type"),
        ("largest_use_type", json!(["Office"]), "largest_use_type"),
        ("site_eui", json!(55.0), "site_eui"),
    ];
    for (field, value, named) in cases {
        let mut body = example();
        body[field] = value.clone();
        let (status, answer) = post("/predict", &body);
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}: {answer}"
        );
        assert_eq!(error_fields(&answer), [named], "{field}={value}");
    }
    let mut body = example();
    body.as_object_mut().unwrap().remove("neighborhood");
    body["latitude"] = Value::Null;
    let (status, answer) = post("/predict", &body);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&answer), ["neighborhood", "latitude"]);
}

#[test]
fn optional_fields_may_be_left_out() {
    let mut body = example();
    let object = body.as_object_mut().unwrap();
    object.remove("largest_use_type");
    object.remove("largest_use_gfa_sqft");
    assert_eq!(post("/predict", &body).0, StatusCode::OK);
}

#[test]
fn a_batch_answers_in_order_and_names_the_item_at_fault() {
    let mut second = example();
    second["number_of_floors"] = json!(30);
    second["gfa_building_sqft"] = json!(650000);
    let (status, answer) = post(
        "/predict/batch",
        &json!({ "buildings": [example(), second.clone()] }),
    );
    assert_eq!(status, StatusCode::OK, "{answer}");
    let batch: Vec<f64> = answer["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ghg_intensity_log1p"].as_f64().unwrap())
        .collect();
    let singles: Vec<f64> = [example(), second.clone()]
        .iter()
        .map(|b| {
            post("/predict", b).1["ghg_intensity_log1p"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(batch, singles);

    let mut bad = example();
    bad["year_built"] = json!(3000);
    let (status, answer) = post(
        "/predict/batch",
        &json!({ "buildings": [example(), bad], "extra": 1 }),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&answer), ["extra", "buildings[1].year_built"]);
    assert_eq!(
        error_fields(&post("/predict/batch", &json!({ "buildings": [] })).1),
        ["buildings"]
    );
    let too_many = json!({ "buildings": vec![example(); api::BATCH_MAX + 1] });
    assert_eq!(
        post("/predict/batch", &too_many).0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[test]
fn the_body_itself_is_checked() {
    let (status, answer, _) = call(
        "POST",
        "/predict",
        Some("text/plain"),
        example().to_string().into_bytes(),
    );
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_fields(&answer), ["body"]);
    let (status, answer, _) = call(
        "POST",
        "/predict",
        Some("application/json"),
        b"{\"year_built\": ".to_vec(),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&answer), ["body"]);
    let mut huge = example();
    huge["neighborhood"] = json!("x".repeat(api::SINGLE_LIMIT));
    let (status, answer) = post("/predict", &huge);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(error_fields(&answer), ["body"]);
    let (status, answer) = post("/predict", &json!([example()]));
    assert_eq!(
        (status, error_fields(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["body".to_string()])
    );
}

#[test]
fn health_model_and_an_offline_documented_spec() {
    let (status, health, _) = call("GET", "/health", None, vec![]);
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, model, _) = call("GET", "/model", None, vec![]);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        model["features"].as_array().unwrap().len(),
        app().predictor.metadata.features.len()
    );
    assert!(
        model.get("parameters").is_none(),
        "the metadata, not the fitted trees"
    );

    let (status, spec, _) = call("GET", "/openapi.json", None, vec![]);
    assert_eq!(status, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let building = &spec["components"]["schemas"]["BuildingInput"];
    assert_eq!(building["additionalProperties"], json!(false));
    assert_eq!(building["properties"]["year_built"]["minimum"], json!(1850));
    let neighborhoods = building["properties"]["neighborhood"]["enum"]
        .as_array()
        .unwrap();
    assert_eq!(
        neighborhoods.len(),
        app().predictor.metadata.domains["neighborhood"].len()
    );
    for path in ["/predict", "/predict/batch", "/health", "/model"] {
        assert!(spec["paths"].get(path).is_some(), "{path} is documented");
    }
    // The clamp at zero is part of the answer's contract, documented where clients read it.
    let clamped = &spec["components"]["schemas"]["Prediction"]["properties"]["clamped_at_zero"];
    assert_eq!(clamped["type"], json!("boolean"), "{clamped}");
    assert!(
        clamped["description"]
            .as_str()
            .unwrap_or("")
            .contains("below zero"),
        "{clamped}"
    );
    // A missing largest use, written `NULL` in the file, is not offered as a property use.
    let uses = building["properties"]["largest_use_type"]["enum"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>())
        .unwrap_or_default();
    assert!(!uses.is_empty() && !uses.contains(&"NULL"), "{uses:?}");

    let (status, _, page) = call("GET", "/docs/", None, vec![]);
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("swagger-ui"));
    assert!(
        !page.contains("https://"),
        "no CDN: the UI's assets are served by the binary"
    );
    let (status, _, script) = call("GET", "/docs/swagger-ui-bundle.js", None, vec![]);
    assert_eq!(status, StatusCode::OK);
    assert!(script.len() > 100_000);
}

/// Any JSON value, nested a few levels.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,24}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary bodies, raw bytes included: never a 5xx.
    #[test]
    fn no_body_gets_a_server_error(value in arbitrary_json(), raw in prop::collection::vec(any::<u8>(), 0..64)) {
        for path in ["/predict", "/predict/batch"] {
            prop_assert!(post(path, &value).0.as_u16() < 500);
            let batch = json!({ "buildings": [value.clone()] });
            prop_assert!(post(path, &batch).0.as_u16() < 500);
            prop_assert!(call("POST", path, Some("application/json"), raw.clone()).0.as_u16() < 500);
        }
    }

    /// A valid body with one field replaced by anything: 200 with a finite prediction, or 422
    /// naming that field.
    #[test]
    fn one_field_replaced_is_accepted_or_named(index in 0..validate::FIELDS.len(), value in arbitrary_json()) {
        let field = validate::FIELDS[index].name;
        let mut body = example();
        body[field] = value;
        let (status, answer) = post("/predict", &body);
        match status {
            StatusCode::OK => prop_assert!(answer["ghg_intensity_kg_per_sqft"].as_f64().is_some_and(f64::is_finite)),
            StatusCode::UNPROCESSABLE_ENTITY => {
                let fields = error_fields(&answer);
                prop_assert_eq!(fields, vec![field.to_string()]);
            }
            other => prop_assert!(false, "status {}", other),
        }
    }
}
