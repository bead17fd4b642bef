//! NosCités's report: the restore's integrity (what was read, restored, quarantined and why,
//! against what was planted), the analyses' findings, the shard-key study, the sharding plan
//! and where each query goes, the live cluster when one is given, and the roles matrix.

use super::shard::{CityFilter, KeyPart};
use crate::backends::docstore::{number, to_frame, DocStore};
use crate::error::{Error, Result};
use crate::frame;
use crate::notebook::{Notebook, Source, Status, Value};
use mongodb::bson::{doc, Document};

use super::{deploy, generate, live, restore, roles, shard, CHAPTER};

pub(super) fn integrity(
    nb: &mut Notebook,
    r: &restore::Report,
    planted: Option<&generate::Planted>,
) -> Result<()> {
    let src = crate::function_source!(crate::chapters::noscites::restore::restore);
    nb.add_finding(
        "restore.read",
        Value::count(r.read),
        Some("documents"),
        src.clone(),
    )?;
    nb.add_finding(
        "restore.restored",
        Value::count(r.restored),
        Some("documents"),
        src.clone(),
    )?;
    nb.add_finding(
        "restore.quarantined",
        Value::count(r.quarantined()),
        Some("documents"),
        src.clone(),
    )?;
    nb.add_finding(
        "restore.bson_bytes",
        Value::count(r.bson_bytes),
        Some("bytes"),
        src.clone(),
    )?;
    nb.add_finding(
        "restore.bson_sha256",
        Value::Text(r.bson_sha256[..16].to_string()),
        None,
        src.clone(),
    )?;
    nb.add_finding(
        "restore.checksum_problems",
        Value::count(r.checksum_problems.len()),
        Some("files"),
        crate::function_source!(crate::backends::docstore::dump::verify_checksums),
    )?;
    let rows: Vec<Document> = restore::REASONS.iter().map(|reason| doc! {"reason": *reason, "documents": *r.quarantined_by_reason.get(*reason).unwrap_or(&0) as i64}).collect();
    for reason in restore::REASONS {
        let key = format!(
            "quarantine.{}",
            reason.replace([' ', '_'], "_").replace("__", "_")
        );
        nb.add_finding(
            &key,
            Value::count(*r.quarantined_by_reason.get(reason).unwrap_or(&0)),
            Some("documents"),
            src.clone(),
        )?;
    }
    nb.add_table(
        "quarantine",
        to_frame(&rows, &["reason", "documents"]).map_err(Error::within(CHAPTER))?,
        src,
    )?;
    let status = match planted {
        Some(p) => {
            let got = |k: &str| *r.quarantined_by_reason.get(k).unwrap_or(&0);
            Status::of(
                got(restore::DUPLICATE_ID) == p.duplicate_ids
                    && got(restore::MISSING_FIELD) == p.missing_fields
                    && got(restore::WRONG_TYPE) == p.wrong_types
                    && got(restore::TRUNCATED) == p.truncated
                    && r.restored
                        + p.duplicate_ids
                        + p.missing_fields
                        + p.wrong_types
                        + p.truncated
                        == p.listings + p.duplicate_ids,
                || {
                    format!(
                        "planted {p:?}, quarantined {:?}, restored {}",
                        r.quarantined_by_reason, r.restored
                    )
                },
            )
        }
        None => Status::NotApplicable(
            "the backup was given with --data: nothing was planted to compare with".into(),
        ),
    };
    nb.add_check("restore.damage_found", "each planted damage is quarantined with its reason, and every undamaged listing is in the restored collection (counted on the server)", status, &["restore.quarantined", "restore.restored"])?;
    Ok(())
}

pub(super) fn analysis_findings(
    nb: &mut Notebook,
    results: &std::collections::BTreeMap<&str, Vec<Document>>,
) -> Result<()> {
    let sum = |name: &str, field: &str| {
        results[name]
            .iter()
            .filter_map(|d| number(d, field))
            .sum::<f64>() as i64
    };
    nb.add_finding(
        "analysis.listings",
        Value::Int(sum("rooms", "listings")),
        Some("listings"),
        Source::query("rooms"),
    )?;
    nb.add_finding(
        "analysis.hosts",
        Value::Int(sum("hosts", "hosts")),
        Some("hosts"),
        Source::query("hosts"),
    )?;
    nb.add_finding(
        "analysis.hosts_over_100",
        Value::Int(results["big_hosts"].len() as i64),
        Some("hosts"),
        Source::query("big_hosts"),
    )?;
    let superhosts = sum("hosts", "superhosts");
    let hosts = sum("hosts", "hosts");
    nb.add_finding(
        "analysis.superhost_pct",
        Value::Float {
            value: if hosts == 0 {
                0.0
            } else {
                100.0 * superhosts as f64 / hosts as f64
            },
            decimals: 2,
        },
        Some("%"),
        Source::query("hosts"),
    )?;
    let top = results["neighbourhoods"]
        .first()
        .cloned()
        .unwrap_or_default();
    nb.add_finding(
        "analysis.densest",
        Value::Text(top.get_str("neighbourhood").unwrap_or_default().to_string()),
        None,
        Source::query("neighbourhoods"),
    )?;
    Ok(())
}

/// Cardinality, frequency of the most common value and monotonicity (in the backup's
/// order, which is creation order here) of each candidate shard-key field, over the restored
/// documents as the restore read them.
pub(super) fn key_study(nb: &mut Notebook, report: &restore::Report) -> Result<()> {
    let mut rows = Vec::new();
    for field in restore::KEY_CANDIDATES {
        let (distinct, top) = report.cardinality.get(field).copied().unwrap_or((0, 0));
        let increasing = report.increasing_pct.get(field).copied().unwrap_or(0.0);
        let top_pct = if report.restored == 0 {
            0.0
        } else {
            frame::round_to(100.0 * top as f64 / report.restored as f64, 2)
        };
        rows.push(doc! {"field": field, "distinct_values": distinct as i64, "top_value_pct": top_pct, "increasing_pct": increasing});
    }
    let src = crate::function_source!(
        crate::chapters::noscites::restore::cardinality,
        crate::chapters::noscites::restore::increasing_share
    );
    let study: std::collections::BTreeMap<String, shard::FieldStudy> = restore::KEY_CANDIDATES
        .iter()
        .map(|field| {
            let distinct = report.cardinality.get(*field).map_or(0, |c| c.0);
            let values = report.value_sets.get(*field).cloned();
            (field.to_string(), shard::FieldStudy { distinct, values })
        })
        .collect();
    let zones = shard::zones()?;
    let chosen = shard::choose_key(&restore::KEY_CANDIDATES, &study, report.restored, &zones);
    let declared = shard::key()?;
    let choose = crate::function_source!(crate::chapters::noscites::shard::choose_key);
    nb.add_finding(
        "key.chosen",
        Value::Text(match &chosen {
            Ok(fields) => shard::key_text(fields),
            Err(why) => format!("none ({why})"),
        }),
        None,
        choose.clone(),
    )?;
    nb.add_finding(
        "key.declared",
        Value::Text(shard::key_text(&declared)),
        None,
        crate::function_source!(crate::chapters::noscites::shard::key; "zones.toml"),
    )?;
    let describe = |field: &String| match report.cardinality.get(field) {
        Some((distinct, _)) => format!(
            "{field} has {distinct} distinct values over {} documents",
            report.restored
        ),
        None => format!("{field} is not a studied candidate"),
    };
    nb.add_check(
        "key.chosen_by_study",
        "the plan's shard key (zones.toml) is the one the key study's rules choose from the data",
        Status::of(chosen.as_ref() == Ok(&declared), || {
            let facts: Vec<String> = declared.iter().map(describe).collect();
            format!(
                "the plan declares {}, the study chooses {}: {}",
                shard::key_text(&declared),
                match &chosen {
                    Ok(fields) => shard::key_text(fields),
                    Err(why) => format!("none ({why})"),
                },
                facts.join("; ")
            )
        }),
        &["key.chosen", "key.declared"],
    )?;
    nb.add_finding(
        "key.id_increasing_pct",
        Value::Float {
            value: report.increasing_pct.get("_id").copied().unwrap_or(0.0),
            decimals: 2,
        },
        Some("%"),
        src.clone(),
    )?;
    nb.add_finding(
        "key.city_distinct",
        Value::Int(
            report
                .cardinality
                .get("city")
                .map(|c| c.0 as i64)
                .unwrap_or(0),
        ),
        Some("values"),
        src.clone(),
    )?;
    nb.add_table(
        "key_study",
        to_frame(
            &rows,
            &[
                "field",
                "distinct_values",
                "top_value_pct",
                "increasing_pct",
            ],
        )
        .map_err(Error::within(CHAPTER))?,
        src,
    )?;
    Ok(())
}

/// Planned documents per shard, and the routing of each of the chapter's queries.
pub(super) fn sharding(nb: &mut Notebook, per_city: &[Document]) -> Result<()> {
    let zones = shard::zones()?;
    let mut per_shard: std::collections::BTreeMap<String, i64> =
        shard::SHARDS.iter().map(|s| (s.to_string(), 0)).collect();
    let mut unzoned = 0i64;
    for d in per_city {
        let city = d.get_str("city").unwrap_or_default().to_string();
        let n = number(d, "listings").unwrap_or(0.0) as i64;
        let id = |k: &str| KeyPart::Int(number(d, k).unwrap_or(0.0) as i64);
        // Ranges are intervals: the lowest and highest key of a city in one zone put every
        // key of that city in it.
        let low = shard::shard_of(&zones, &vec![KeyPart::Str(city.clone()), id("min_id")]);
        let high = shard::shard_of(&zones, &vec![KeyPart::Str(city.clone()), id("max_id")]);
        match (low, high) {
            (Some(a), Some(b)) if a == b => *per_shard.get_mut(a).expect("a known shard") += n,
            _ => unzoned += n,
        }
    }
    let rows: Vec<Document> = per_shard
        .iter()
        .map(|(s, n)| doc! {"shard": s, "planned_listings": n})
        .collect();
    for (s, n) in &per_shard {
        nb.add_finding(
            &format!("shard.{s}"),
            Value::Int(*n),
            Some("listings"),
            crate::function_source!(crate::chapters::noscites::shard::shard_of),
        )?;
    }
    nb.add_finding(
        "shard.unzoned",
        Value::Int(unzoned),
        Some("listings"),
        crate::function_source!(crate::chapters::noscites::shard::shard_of),
    )?;
    nb.add_table(
        "planned_distribution",
        to_frame(&rows, &["shard", "planned_listings"]).map_err(Error::within(CHAPTER))?,
        crate::function_source!(crate::chapters::noscites::shard::shard_of),
    )?;

    let queries: [(&str, &str, CityFilter); 5] = [
        (
            "Paris listings of a neighbourhood",
            "{city: \"Paris\", neighbourhood: \"Temple\"}",
            CityFilter::Equals("Paris".into()),
        ),
        (
            "Lyon booking rate",
            "{city: \"Lyon\"}",
            CityFilter::Equals("Lyon".into()),
        ),
        (
            "both cities",
            "{city: {$in: [\"Paris\", \"Lyon\"]}}",
            CityFilter::In(vec!["Paris".into(), "Lyon".into()]),
        ),
        ("a host's listings", "{host_id: 2000001}", CityFilter::None),
        (
            "a city no zone covers",
            "{city: \"Marseille\"}",
            CityFilter::Equals("Marseille".into()),
        ),
    ];
    let mut routing = Vec::new();
    for (what, filter, city) in &queries {
        let shards = shard::route(&zones, city);
        routing.push(doc! {"query": *what, "filter": *filter, "shards": shards.join(", "), "targeted": shards.len() == 1});
    }
    let paris_only =
        shard::route(&zones, &CityFilter::Equals("Paris".into())) == vec!["parisReplSet"];
    nb.add_finding(
        "shard.paris_query_shards",
        Value::Text(shard::route(&zones, &CityFilter::Equals("Paris".into())).join(", ")),
        None,
        crate::function_source!(crate::chapters::noscites::shard::route),
    )?;
    nb.add_table(
        "routing",
        to_frame(&routing, &["query", "filter", "shards", "targeted"])
            .map_err(Error::within(CHAPTER))?,
        crate::function_source!(crate::chapters::noscites::shard::route),
    )?;
    nb.add_check(
        "shard.paris_never_touches_lyon",
        "in the plan, a query on Paris is routed to the Paris shard only, and every listing lies in a zone",
        Status::of(paris_only && unzoned == 0, || format!("Paris routed to {:?}; {unzoned} listings outside every zone", shard::route(&zones, &CityFilter::Equals("Paris".into())))),
        &["shard.paris_query_shards", "shard.unzoned"],
    )?;
    Ok(())
}

/// With a mongos given, the plan applied and checked by `explain()`; otherwise said plainly.
pub(super) fn live_cluster(
    nb: &mut Notebook,
    store: &DocStore,
    db: &str,
    uri_given: bool,
) -> Result<()> {
    let src = crate::function_source!(crate::chapters::noscites::live::apply_and_explain);
    if !(uri_given && live::is_router(store).map_err(Error::within(CHAPTER))?) {
        nb.add_finding(
            "shard.mode",
            Value::Text(
                "the plan, computed from the zone ranges (no mongos router was given)".into(),
            ),
            None,
            src,
        )?;
        return Ok(());
    }
    let reached = live::apply_and_explain(store, db).map_err(Error::within(CHAPTER))?;
    nb.add_finding(
        "shard.mode",
        Value::Text(
            "a live cluster: zones applied through the router, targeting read from explain()"
                .into(),
        ),
        None,
        src.clone(),
    )?;
    let paris = reached
        .iter()
        .find(|(c, _)| c == "Paris")
        .map(|(_, s)| s.join(", "))
        .unwrap_or_default();
    nb.add_finding(
        "shard.live_paris_shards",
        Value::Text(paris.clone()),
        None,
        src,
    )?;
    nb.add_check(
        "shard.live_paris_targeted",
        "on the live cluster, explain() of a Paris query names the Paris shard only",
        Status::of(paris == "parisReplSet", || {
            format!("explain() names {paris:?}")
        }),
        &["shard.live_paris_shards"],
    )?;
    Ok(())
}

pub(super) fn roles(nb: &mut Notebook, cells: &[roles::Cell]) -> Result<()> {
    let declared = deploy::roles()?;
    let rows: Vec<Document> = declared
        .iter()
        .map(|r| doc! {"role": &r.user, "built_in_roles": r.roles.join(", "), "may": &r.may})
        .collect();
    nb.add_table(
        "roles",
        to_frame(&rows, &["role", "built_in_roles", "may"]).map_err(Error::within(CHAPTER))?,
        crate::function_source!(crate::chapters::noscites::deploy::roles; "roles.toml"),
    )?;
    let yes_no = |b: bool| if b { "allowed" } else { "refused" };
    let mut matrix = Vec::new();
    for operation in roles::OPERATIONS {
        let mut row = doc! {"operation": operation};
        for r in &declared {
            let cell = cells
                .iter()
                .find(|c| c.role == r.user && c.operation == operation);
            row.insert(
                &r.user,
                cell.map(|c| yes_no(c.allowed)).unwrap_or("not tried"),
            );
        }
        matrix.push(row);
    }
    let src = crate::function_source!(crate::chapters::noscites::roles::probe);
    nb.add_table(
        "role_matrix",
        to_frame(&matrix, &["operation", "Admin", "Operator", "Viewer"])
            .map_err(Error::within(CHAPTER))?,
        src.clone(),
    )?;
    let agree = cells.iter().filter(|c| c.allowed == c.expected).count();
    let refused = cells.iter().filter(|c| !c.allowed).count();
    let matrix_rows: Vec<serde_json::Map<String, serde_json::Value>> = cells
        .iter()
        .map(|c| {
            let mut m = serde_json::Map::new();
            m.insert("role".into(), c.role.clone().into());
            m.insert("operation".into(), c.operation.into());
            m.insert("expected".into(), yes_no(c.expected).into());
            m.insert("server".into(), yes_no(c.allowed).into());
            m
        })
        .collect();
    nb.add_finding("roles.matrix", Value::Rows(matrix_rows), None, src.clone())?;
    nb.add_finding(
        "roles.cells",
        Value::count(cells.len()),
        Some("operations"),
        src.clone(),
    )?;
    nb.add_finding(
        "roles.as_expected",
        Value::count(agree),
        Some("operations"),
        src.clone(),
    )?;
    nb.add_finding(
        "roles.refused",
        Value::count(refused),
        Some("operations"),
        src,
    )?;
    let mut wrong: Vec<String> = cells
        .iter()
        .filter(|c| c.allowed != c.expected)
        .map(|c| format!("{} {} was {}", c.role, c.operation, yes_no(c.allowed)))
        .collect();
    // A refusal counts only when it is the server's authorization error: any other failure
    // (a typo in a command, a server down) would otherwise pass for an enforced role.
    wrong.extend(
        cells
            .iter()
            .filter(|c| !c.allowed && !c.unauthorized)
            .map(|c| {
                format!(
                    "{} {} failed, but not with MongoDB's authorization error (code 13): {}",
                    c.role,
                    c.operation,
                    c.refusal.as_deref().unwrap_or_default()
                )
            }),
    );
    nb.add_check(
        "roles.enforced",
        "every role was allowed exactly its operations by the server: the forbidden ones were refused",
        Status::of(cells.len() == 15 && wrong.is_empty(), || if wrong.is_empty() { format!("{} operations tried, expected 15", cells.len()) } else { wrong.join("; ") }),
        &["roles.matrix", "roles.cells", "roles.as_expected", "roles.refused"],
    )?;
    Ok(())
}
