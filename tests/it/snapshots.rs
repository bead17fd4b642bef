//! insta snapshots of every chapter's findings, in the top-level `snapshots/` folder as
//! `<chapter>__findings.snap`. Review changes with `cargo insta review`.

/// Snapshot settings shared by every chapter: top-level folder, sorted maps.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(super::root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_sort_maps(true);
    settings
}

#[test]
fn supersmartmarket_findings() {
    let nb = super::run("supersmartmarket", &[], None);
    settings()
        .bind(|| insta::assert_yaml_snapshot!("supersmartmarket__findings", nb.findings_json()));
}

#[test]
fn supersmartmarket_checks() {
    let nb = super::run("supersmartmarket", &[], None);
    let checks: Vec<(String, String)> = nb
        .checks
        .iter()
        .map(|c| (c.id.clone(), c.status.label().to_string()))
        .collect();
    settings().bind(|| insta::assert_yaml_snapshot!("supersmartmarket__checks", checks));
}

#[test]
fn laplace_immo_findings() {
    let nb = super::run("laplace_immo", &[], None);
    settings().bind(|| insta::assert_yaml_snapshot!("laplace_immo__findings", nb.findings_json()));
}

#[test]
fn seattle_findings() {
    let nb = &super::book_notebooks()
        .iter()
        .find(|(c, _)| c.meta().id == "seattle")
        .unwrap()
        .1;
    settings().bind(|| insta::assert_yaml_snapshot!("seattle__findings", nb.findings_json()));
}

#[test]
fn bottleneck_findings() {
    let nb = &super::book_notebooks()
        .iter()
        .find(|(c, _)| c.meta().id == "bottleneck")
        .unwrap()
        .1;
    settings().bind(|| insta::assert_yaml_snapshot!("bottleneck__findings", nb.findings_json()));
}

#[test]
fn bottleneck_checks() {
    let nb = &super::book_notebooks()
        .iter()
        .find(|(c, _)| c.meta().id == "bottleneck")
        .unwrap()
        .1;
    let checks: Vec<(String, String)> = nb
        .checks
        .iter()
        .map(|c| (c.id.clone(), c.status.label().to_string()))
        .collect();
    settings().bind(|| insta::assert_yaml_snapshot!("bottleneck__checks", checks));
}

#[test]
fn indutech_findings() {
    let nb = &super::book_notebooks()
        .iter()
        .find(|(c, _)| c.meta().id == "indutech")
        .unwrap()
        .1;
    settings().bind(|| insta::assert_yaml_snapshot!("indutech__findings", nb.findings_json()));
}

#[test]
fn greencoop_findings() {
    let nb = &super::book_notebooks()
        .iter()
        .find(|(c, _)| c.meta().id == "greencoop")
        .unwrap()
        .1;
    settings().bind(|| insta::assert_yaml_snapshot!("greencoop__findings", nb.findings_json()));
}

#[test]
fn noscites_findings() {
    let nb = &super::book_notebooks()
        .iter()
        .find(|(c, _)| c.meta().id == "noscites")
        .unwrap()
        .1;
    settings().bind(|| insta::assert_yaml_snapshot!("noscites__findings", nb.findings_json()));
}
