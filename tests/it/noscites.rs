//! NosCités: the routing plan against MongoDB's documented zone semantics (cases written
//! from the documentation, not from the implementation), the committed deployment equal to
//! what the chapter writes, and the restore: any planted damage quarantined with its reason,
//! nothing lost between dump and store.

use auditbook::backends::docstore::DocStore;
use auditbook::chapters::noscites::shard::{
    route, shard_of, zones, CityFilter, KeyPart, ZoneRange,
};
use auditbook::chapters::noscites::{deploy, generate, restore};
use proptest::prelude::*;

fn key(city: &str, id: i64) -> Vec<KeyPart> {
    vec![KeyPart::Str(city.into()), KeyPart::Int(id)]
}

/// "Zone ranges: the lower bound is inclusive and the upper bound exclusive" (MongoDB manual,
/// Zones): a range [{x: 10}, {x: 20}) holds 10 and 19, not 20.
#[test]
fn bounds_are_inclusive_min_exclusive_max() {
    let z = ZoneRange {
        zone: "Z",
        shard: "s",
        min: vec![KeyPart::Int(10)],
        max: vec![KeyPart::Int(20)],
    };
    assert!(z.contains(&vec![KeyPart::Int(10)]));
    assert!(z.contains(&vec![KeyPart::Int(19)]));
    assert!(!z.contains(&vec![KeyPart::Int(20)]));
    assert!(!z.contains(&vec![KeyPart::Int(9)]));
}

/// MinKey compares below and MaxKey above every value (BSON comparison order), so
/// [{city: "Paris", _id: MinKey}, {city: "Paris", _id: MaxKey}) holds every Paris document
/// and nothing else; strings compare by bytes, so "Paris " or "paris" are not Paris.
#[test]
fn a_city_zone_holds_exactly_that_city() {
    let z = zones().unwrap();
    assert_eq!(shard_of(&z, &key("Paris", i64::MIN)), Some("parisReplSet"));
    assert_eq!(shard_of(&z, &key("Paris", i64::MAX)), Some("parisReplSet"));
    assert_eq!(shard_of(&z, &key("Lyon", 0)), Some("lyonReplSet"));
    assert_eq!(shard_of(&z, &key("paris", 0)), None);
    assert_eq!(shard_of(&z, &key("Paris ", 0)), None);
    assert_eq!(shard_of(&z, &key("Marseille", 0)), None);
    let with_string_id = vec![KeyPart::Str("Paris".into()), KeyPart::Str("abc".into())];
    assert_eq!(
        shard_of(&z, &with_string_id),
        Some("parisReplSet"),
        "MaxKey is above strings too"
    );
}

/// "If the query does not include the shard key [prefix], mongos must broadcast it to all
/// shards" (Query Isolation); an equality on the prefix targets the shards whose ranges can
/// hold it.
#[test]
fn queries_are_targeted_by_the_prefix_or_broadcast() {
    let z = zones().unwrap();
    assert_eq!(
        route(&z, &CityFilter::Equals("Paris".into())),
        vec!["parisReplSet"]
    );
    assert_eq!(
        route(&z, &CityFilter::Equals("Lyon".into())),
        vec!["lyonReplSet"]
    );
    assert_eq!(
        route(&z, &CityFilter::None),
        vec!["parisReplSet", "lyonReplSet"]
    );
    let both = route(&z, &CityFilter::In(vec!["Lyon".into(), "Paris".into()]));
    assert_eq!(both, vec!["lyonReplSet", "parisReplSet"]);
    // Keys outside every zone may be on any shard: no targeting possible.
    assert_eq!(route(&z, &CityFilter::Equals("Marseille".into())).len(), 2);
}

#[test]
fn the_committed_deployment_is_what_the_chapter_writes() {
    let dir = crate::root().join("deploy/noscites");
    let files = [
        ("docker-compose.yml", deploy::compose_yaml()),
        ("init.js", deploy::init_js().unwrap()),
    ];
    if std::env::var_os("AUDITBOOK_WRITE_DEPLOY").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &files {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    for (name, text) in &files {
        let committed = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert_eq!(
            &committed, text,
            "deploy/noscites/{name} is stale: rerun this test with AUDITBOOK_WRITE_DEPLOY=1"
        );
    }
    let init = deploy::init_js().unwrap();
    for command in ["sh.addShard(", "sh.addShardToZone(\"parisReplSet\", \"PARIS\")", "sh.updateZoneKeyRange(\"noscites.listings\", { city: \"Paris\", _id: MinKey }, { city: \"Paris\", _id: MaxKey }, \"PARIS\")", "sh.shardCollection(\"noscites.listings\", { city: 1, _id: 1 })", "role: \"read\""] {
        assert!(init.contains(command), "init.js lacks {command}");
    }
}

fn store() -> &'static DocStore {
    static STORE: std::sync::OnceLock<DocStore> = std::sync::OnceLock::new();
    STORE.get_or_init(|| {
        DocStore::connect(std::env::var("AUDITBOOK_TEST_MONGO_URI").ok().as_deref()).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(4), ..ProptestConfig::default() })]

    /// Whatever damage is planted, each kind is quarantined with its reason, every intact
    /// listing is restored, and read = restored + quarantined.
    #[test]
    fn planted_damage_is_quarantined_and_nothing_is_lost(dups in 0usize..6, missing in 0usize..6, wrong in 0usize..6, truncate in any::<bool>(), seed in 0u64..500) {
        let dir = tempfile::tempdir().unwrap();
        let plan = generate::Plan { seed, paris: 300, lyon: 60, duplicate_ids: dups, missing_fields: missing, wrong_types: wrong, truncate_last: truncate };
        let planted = generate::generate(&plan, dir.path()).unwrap();
        let db = format!("noscites_prop_{}_{seed}_{dups}{missing}{wrong}{}", std::process::id(), truncate as u8);
        let s = store();
        s.drop_database(&db).unwrap();
        let report = restore::restore(s, &dir.path().join("dump"), &db).unwrap();
        let got = |k: &str| *report.quarantined_by_reason.get(k).unwrap_or(&0);
        prop_assert_eq!(report.read, report.restored + report.quarantined());
        prop_assert_eq!(got("duplicate _id"), planted.duplicate_ids);
        prop_assert_eq!(got("missing required field"), planted.missing_fields);
        prop_assert_eq!(got("wrong field type"), planted.wrong_types);
        prop_assert_eq!(got("truncated document"), planted.truncated);
        prop_assert_eq!(report.restored, planted.listings - planted.missing_fields - planted.wrong_types - planted.truncated);
        prop_assert_eq!(report.checksum_problems.is_empty(), !truncate);
        let listings = s.collection(&db, "listings");
        prop_assert_eq!(s.count(&listings, mongodb::bson::doc! {}).unwrap() as usize, report.restored);
        s.drop_database(&db).unwrap();
    }
}

/// The three roles on the MongoDB-wire server `scripts/test` starts with authentication on:
/// each allowed operation succeeds and each forbidden one is refused by the server.
#[test]
fn the_roles_are_enforced_by_the_test_server() {
    let Some(uri) = crate::server("AUDITBOOK_TEST_MONGO_AUTH_URI") else {
        return;
    };
    let admin = DocStore::connect(Some(&uri)).unwrap();
    let db = format!("noscites_roles_{}", std::process::id());
    admin.drop_database(&db).unwrap();
    admin
        .insert_unordered(
            &admin.collection(&db, "listings"),
            vec![mongodb::bson::doc! {"_id": 1i64, "city": "Paris"}],
        )
        .unwrap();
    let cells =
        auditbook::chapters::noscites::roles::probe(&admin, &db, &mongodb::bson::Bson::Int64(1))
            .unwrap();
    assert_eq!(cells.len(), 15);
    for c in &cells {
        assert_eq!(
            c.allowed, c.expected,
            "{} / {}: {:?}",
            c.role, c.operation, c.refusal
        );
    }
    // Refusals are the server's authorisation errors, not connection failures.
    assert!(
        cells.iter().filter(|c| !c.allowed).all(|c| c
            .refusal
            .as_deref()
            .is_some_and(|r| r.contains("not authorized"))),
        "{cells:?}"
    );
    // Without credentials nothing is readable.
    let anonymous = uri.replace("ci-admin:ci-admin-pw@", "");
    if let Ok(anon) = DocStore::connect(Some(&anonymous)) {
        assert!(anon
            .count(&anon.collection(&db, "listings"), mongodb::bson::doc! {})
            .is_err());
    }
    admin.drop_database(&db).unwrap();
}

/// The chapter's own default: the local server with authentication on, the matrix as intended.
#[test]
fn the_local_server_with_auth_enforces_the_roles() {
    let admin = DocStore::connect_local_with_auth("root-test", "root-test-pw").unwrap();
    assert!(admin.server.contains("authentication on"));
    admin
        .insert_unordered(
            &admin.collection("nc", "listings"),
            vec![mongodb::bson::doc! {"_id": 1i64}],
        )
        .unwrap();
    let cells =
        auditbook::chapters::noscites::roles::probe(&admin, "nc", &mongodb::bson::Bson::Int64(1))
            .unwrap();
    assert!(cells.iter().all(|c| c.allowed == c.expected), "{cells:?}");
    assert!(
        admin.connect_as("root-test", "wrong", "admin").is_err(),
        "a wrong password is refused"
    );
}
