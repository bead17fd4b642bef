//! Seeded Inside-Airbnb-style listings for Paris and Lyon (the public `listings` schema),
//! written as a mongodump directory (`noscites/listings.bson` and its metadata), with the
//! damage a crashed database's backup can carry planted on request: duplicated `_id`s,
//! documents missing a required field, fields of the wrong type, a truncated last document.
//! Skew as in the real data: arrondissements of very different density, and a few hosts
//! (management companies) with hundreds of listings.

use std::path::Path;

use mongodb::bson::{doc, Bson, Document};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::backends::docstore::dump;

/// Paris's arrondissements as Inside Airbnb names them, with a relative density of listings.
pub const PARIS: [(&str, f64); 20] = [
    ("Buttes-Montmartre", 10.0),
    ("Popincourt", 9.0),
    ("Vaugirard", 7.5),
    ("Entrepôt", 7.0),
    ("Batignolles-Monceau", 7.0),
    ("Buttes-Chaumont", 6.0),
    ("Passy", 6.0),
    ("Ménilmontant", 5.5),
    ("Temple", 5.0),
    ("Opéra", 4.5),
    ("Observatoire", 4.0),
    ("Reuilly", 4.0),
    ("Gobelins", 3.5),
    ("Hôtel-de-Ville", 3.5),
    ("Panthéon", 3.5),
    ("Bourse", 3.0),
    ("Élysée", 3.0),
    ("Luxembourg", 3.0),
    ("Palais-Bourbon", 2.5),
    ("Louvre", 2.0),
];
/// Lyon's arrondissements and their weights in the generated listings.
pub const LYON: [(&str, f64); 9] = [
    ("1er Arrondissement", 5.0),
    ("2e Arrondissement", 5.5),
    ("3e Arrondissement", 6.0),
    ("4e Arrondissement", 2.5),
    ("5e Arrondissement", 2.5),
    ("6e Arrondissement", 4.0),
    ("7e Arrondissement", 5.0),
    ("8e Arrondissement", 2.0),
    ("9e Arrondissement", 1.5),
];
/// Airbnb's room types and their weights (per cent).
pub const ROOM_TYPES: [(&str, f64); 4] = [
    ("Entire home/apt", 83.0),
    ("Private room", 15.0),
    ("Hotel room", 1.2),
    ("Shared room", 0.8),
];

/// What to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Seed of the generator.
    pub seed: u64,
    /// Listings in Paris.
    pub paris: usize,
    /// Listings in Lyon.
    pub lyon: usize,
    /// Listings written twice under one `_id`.
    pub duplicate_ids: usize,
    /// Listings missing a required field.
    pub missing_fields: usize,
    /// Listings with a field of the wrong BSON type.
    pub wrong_types: usize,
    /// Whether the dump's last document is cut short.
    pub truncate_last: bool,
}

/// What was planted, for the checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Planted {
    /// Listing documents written.
    pub listings: usize,
    /// Documents sharing an `_id` with an earlier one.
    pub duplicate_ids: usize,
    /// Documents missing a required field.
    pub missing_fields: usize,
    /// Documents with a field of the wrong type.
    pub wrong_types: usize,
    /// Documents cut short (0 or 1).
    pub truncated: usize,
}

fn pick<'a>(rng: &mut ChaCha8Rng, weighted: &[(&'a str, f64)]) -> &'a str {
    let total: f64 = weighted.iter().map(|w| w.1).sum();
    let mut x = rng.random_range(0.0..total);
    for (name, w) in weighted {
        if x < *w {
            return name;
        }
        x -= w;
    }
    weighted[weighted.len() - 1].0
}

/// Hosts for `n` listings: a handful of companies with hundreds, then a long tail.
fn hosts(rng: &mut ChaCha8Rng, n: usize, first_id: i64) -> Vec<i64> {
    let mut out = Vec::with_capacity(n);
    let companies = (n / 15_000).max(1);
    let mut id = first_id;
    for _ in 0..companies {
        let size = rng.random_range(110..420).min(n / 10);
        out.extend(std::iter::repeat_n(id, size));
        id += 1;
    }
    while out.len() < n {
        // Most hosts have one listing; some a few; a few dozens.
        let size = match rng.random_range(0..100) {
            0..=79 => 1,
            80..=95 => rng.random_range(2..5),
            96..=98 => rng.random_range(5..20),
            _ => rng.random_range(20..80),
        };
        out.extend(std::iter::repeat_n(id, size.min(n - out.len())));
        id += 1;
    }
    // Spread each host's listings through the file as a real export would.
    for i in (1..out.len()).rev() {
        let j = rng.random_range(0..=i);
        out.swap(i, j);
    }
    out
}

fn listing(
    rng: &mut ChaCha8Rng,
    id: i64,
    host_id: i64,
    city: &str,
    superhosts: &std::collections::HashSet<i64>,
    host_count: usize,
) -> Document {
    let (hoods, lat, lon): (&[(&str, f64)], f64, f64) = if city == "Paris" {
        (&PARIS, 48.8566, 2.3522)
    } else {
        (&LYON, 45.7640, 4.8357)
    };
    let neighbourhood = pick(rng, hoods);
    let room_type = pick(rng, &ROOM_TYPES);
    let accommodates: i32 = if room_type == "Entire home/apt" {
        rng.random_range(1..9)
    } else {
        rng.random_range(1..3)
    };
    let base = if city == "Paris" { 95.0 } else { 65.0 }
        * if room_type == "Entire home/apt" {
            1.3
        } else {
            0.7
        };
    let price =
        (base * (0.5 + rng.random::<f64>().powf(2.0) * 3.0) * (1.0 + accommodates as f64 / 8.0))
            .round();
    let availability_30: i32 = if rng.random_bool(0.35) {
        0
    } else {
        rng.random_range(0..31)
    };
    let reviews: i32 = (rng.random::<f64>().powf(3.0) * 400.0) as i32;
    let since_days: i64 = rng.random_range(0..4800);
    let host_since = (chrono::NaiveDate::from_ymd_opt(2024, 9, 1).expect("date")
        - chrono::Duration::days(since_days))
    .to_string();
    let last_review = if reviews == 0 {
        Bson::Null
    } else {
        Bson::String(
            (chrono::NaiveDate::from_ymd_opt(2024, 9, 1).expect("date")
                - chrono::Duration::days(rng.random_range(0..700)))
            .to_string(),
        )
    };
    doc! {
        "_id": id,
        "name": format!("{} · {} · {} guests", room_type, neighbourhood, accommodates),
        "host_id": host_id,
        "host_name": format!("Host {}", host_id % 9973),
        "host_since": host_since,
        "host_is_superhost": superhosts.contains(&host_id),
        "host_listings_count": host_count as i32,
        "neighbourhood": neighbourhood,
        "latitude": ((lat + rng.random_range(-0.05..0.05)) * 1e5_f64).round() / 1e5,
        "longitude": ((lon + rng.random_range(-0.07..0.07)) * 1e5_f64).round() / 1e5,
        "room_type": room_type,
        "accommodates": accommodates,
        "bedrooms": if room_type == "Entire home/apt" { Bson::Int32((accommodates + 1) / 2) } else { Bson::Int32(1) },
        "price": price,
        "minimum_nights": *[1, 2, 3, 4, 7, 30, 90].get(rng.random_range(0..7)).expect("in range"),
        "availability_30": availability_30,
        "availability_365": (availability_30 * 12 + rng.random_range(0..5)).min(365),
        "number_of_reviews": reviews,
        "review_scores_rating": if reviews == 0 { Bson::Null } else { Bson::Double((rng.random_range(3.5..5.0) * 100.0_f64).round() / 100.0) },
        "instant_bookable": rng.random_bool(0.3),
        "last_review": last_review,
        "city": city,
    }
}

/// The clean listings, Paris first, ids increasing as Inside Airbnb's do (a listing created
/// later has a larger id).
pub fn listings(plan: &Plan) -> Vec<Document> {
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let mut out = Vec::with_capacity(plan.paris + plan.lyon);
    let mut next_id: i64 = 3_109;
    for (city, n, first_host) in [
        ("Paris", plan.paris, 2_000_000i64),
        ("Lyon", plan.lyon, 9_000_000i64),
    ] {
        let host_of = hosts(&mut rng, n, first_host);
        let mut counts = std::collections::HashMap::new();
        for h in &host_of {
            *counts.entry(*h).or_insert(0usize) += 1;
        }
        // About one host in five is a superhost, chosen by a hash of the id (independent of the seed).
        let superhosts: std::collections::HashSet<i64> = counts
            .keys()
            .copied()
            .filter(|h| (h.wrapping_mul(2_654_435_761) >> 7).rem_euclid(100) < 19)
            .collect();
        for host in host_of {
            next_id += rng.random_range(1..40);
            out.push(listing(
                &mut rng,
                next_id,
                host,
                city,
                &superhosts,
                counts[&host],
            ));
        }
    }
    out
}

/// Fields every listing must have, with the BSON type the chapter expects.
pub const REQUIRED: [(&str, &str); 8] = [
    ("_id", "long"),
    ("city", "string"),
    ("neighbourhood", "string"),
    ("room_type", "string"),
    ("host_id", "long"),
    ("price", "double"),
    ("availability_30", "int"),
    ("host_is_superhost", "bool"),
];

/// Writes the (damaged) dump under `dir` and says what was planted.
pub fn generate(plan: &Plan, dir: &Path) -> crate::Result<Planted> {
    let mut docs = listings(plan);
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed ^ 0xda3a6e);
    let n = docs.len();
    let mut planted = Planted {
        listings: n,
        ..Planted::default()
    };
    // Damage distinct documents, none of them the last (which may be truncated).
    let mut victims: Vec<usize> = Vec::new();
    while victims.len() < (plan.missing_fields + plan.wrong_types).min(n.saturating_sub(1)) {
        let i = rng.random_range(0..n - 1);
        if !victims.contains(&i) {
            victims.push(i);
        }
    }
    for (k, i) in victims.iter().enumerate() {
        if k < plan.missing_fields {
            let field = REQUIRED[1 + k % (REQUIRED.len() - 1)].0;
            docs[*i].remove(field);
            planted.missing_fields += 1;
        } else {
            // A price exported as text, or an availability as a string.
            if k % 2 == 0 {
                let price = docs[*i].get_f64("price").unwrap_or(0.0);
                docs[*i].insert("price", format!("€{price:.2}"));
            } else {
                let a = docs[*i].get_i32("availability_30").unwrap_or(0);
                docs[*i].insert("availability_30", a.to_string());
            }
            planted.wrong_types += 1;
        }
    }
    // Duplicated _ids: a second copy of an undamaged document, later in the file, with
    // another price; never after the last document (the one the crash may cut).
    let mut copies_after: Vec<Vec<Document>> = vec![Vec::new(); n];
    while planted.duplicate_ids < plan.duplicate_ids.min(n.saturating_sub(1 + victims.len())) {
        let i = rng.random_range(0..n - 1);
        if victims.contains(&i) {
            continue;
        }
        let mut copy = docs[i].clone();
        copy.insert("price", 1.0 + copy.get_f64("price").unwrap_or(0.0));
        copies_after[rng.random_range(i..n - 1)].push(copy);
        planted.duplicate_ids += 1;
    }
    let docs: Vec<Document> = docs
        .into_iter()
        .zip(copies_after)
        .flat_map(|(d, copies)| std::iter::once(d).chain(copies))
        .collect();
    let root = dir.join("dump");
    let _ = std::fs::remove_dir_all(&root);
    let index = dump::IndexSpec {
        name: "city_1__id_1".into(),
        keys: doc! {"city": 1, "_id": 1},
        unique: false,
    };
    dump::write(&root, "noscites", "listings", &docs, &[index])?;
    if plan.truncate_last {
        // The crash: the last document cut in half. The checksums were written before it.
        let path = root.join("noscites").join("listings.bson");
        let bytes = std::fs::read(&path).map_err(crate::Error::io(&path))?;
        let last = crate::backends::docstore::dump::encode(&docs[docs.len() - 1..]).len();
        std::fs::write(&path, &bytes[..bytes.len() - last / 2]).map_err(crate::Error::io(&path))?;
        planted.truncated = 1;
    }
    Ok(planted)
}
