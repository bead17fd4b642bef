//! insta snapshots of every chapter's findings and check results, in the top-level
//! `snapshots/` folder as `<chapter>__findings.snap` and `<chapter>__checks.snap`. The test
//! loops over the registry: a new chapter is snapshotted with no new test code. Review
//! changes with `cargo insta review`.

/// Snapshot settings shared by every chapter: top-level folder, sorted maps.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(super::root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_sort_maps(true);
    settings
}

#[test]
fn every_chapter_findings_and_checks() {
    let notebooks = super::book_notebooks();
    assert_eq!(
        notebooks.len(),
        auditbook::chapters::all().len(),
        "every chapter of the registry is in the book"
    );
    for (chapter, nb) in notebooks {
        let id = chapter.meta().id;
        let checks: Vec<(String, String)> = nb
            .checks
            .iter()
            .map(|c| (c.id.clone(), c.status.label().to_string()))
            .collect();
        settings().bind(|| {
            insta::assert_yaml_snapshot!(format!("{id}__findings"), nb.findings_json());
            insta::assert_yaml_snapshot!(format!("{id}__checks"), checks);
        });
    }
}
