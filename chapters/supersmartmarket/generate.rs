//! The seeded generator of the SuperSmartMarket export. It writes the course export's five
//! files in their real layout (`;`-separated, CRLF, UTF-8 BOM, no trailing newline) plus the
//! insertion log the real export lacks (one INSERT row per field of each sale, one UPDATE row
//! per price change), and plants the two incidents the audit must find from the data alone:
//! a batch of one day's sales inserted the next day, and price updates on that next day.
//!
//! It returns what it planted, so tests can assert found == planted; the audit itself never
//! reads that record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::dataset::dataset_ref;
use crate::error::{Error, Result};
use crate::notebook::DatasetRef;

/// What the generator is asked to plant, from the chapter's parameters.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Seed of the generator.
    pub seed: u64,
    /// The first sale day.
    pub start: NaiveDate,
    /// Sale days.
    pub days: u32,
    /// Products in the catalogue.
    pub products: u32,
    /// Customers.
    pub customers: u32,
    /// Staff members who insert sales.
    pub staff: u32,
    /// Sales per day, inserted the same day.
    pub sales_per_day: u32,
    /// The sale day whose late batch is inserted days later.
    pub late_day: NaiveDate,
    /// Sales of that day inserted late.
    pub late_batch: u32,
    /// Product price updates recorded in the log.
    pub price_updates: u32,
}

/// What the generator actually planted, computed in Rust alongside the files.
#[derive(Debug, Clone, PartialEq)]
pub struct Planted {
    /// The sale day of the late batch.
    pub late_day: NaiveDate,
    /// Sales in the late batch.
    pub late_batch_rows: u64,
    /// The late batch valued at the prices in force when it was sold.
    pub late_batch_revenue: Decimal,
    /// Price updates written to the log.
    pub price_updates: u64,
    /// Per sale day, Σ (today's − sale-time price) over its sales: the price effect the audit
    /// must find for whichever day it audits (a day with no repriced sale has none).
    pub price_effect_by_day: BTreeMap<NaiveDate, Decimal>,
    /// Sales written, the late batch included.
    pub sales: u64,
}

/// The fact table of the export: one row per sale (file names as in the course files).
pub const FACT: &str = "Fact_vente.csv";
/// The product dimension.
pub const PRODUCTS: &str = "Dim_Produit.csv";
/// The customer dimension.
pub const CUSTOMERS: &str = "Dim_Client.csv";
/// The calendar dimension.
pub const CALENDAR: &str = "Dim_Date.csv";
/// The staff dimension.
pub const STAFF: &str = "Dim_Staff.csv";
/// The insertion log: who inserted which sale, when, and the price updates.
pub const LOG: &str = "Log_insertion.csv";

/// Departments and aisles of a French supermarket (names as in the export's `Categorie`).
const DEPARTMENTS: &[(&str, &[&str], f64)] = &[
    (
        "Produits Secs & Conserves",
        &[
            "pates",
            "riz",
            "conserves",
            "biscuits",
            "tablettes chocolat",
            "cafe",
        ],
        2.6,
    ),
    (
        "Hygiène & Parfumerie",
        &["shampooings", "gels douche", "dentifrices", "deodorants"],
        4.5,
    ),
    (
        "Cosmétiques & Maquillage",
        &["l'oreal", "gemey", "rimmel", "soins visage"],
        9.0,
    ),
    ("Boissons", &["eaux", "jus", "sodas", "vins", "bieres"], 3.2),
    (
        "Produits Laitiers & Crèmerie",
        &["yaourts", "fromages", "beurres", "laits"],
        2.4,
    ),
    (
        "Charcuterie & Plats Traiteur",
        &["jambons", "plats cuisines", "saucissons"],
        4.1,
    ),
    (
        "Bricolage & Outillage",
        &["outils", "visserie", "peinture", "electricite"],
        18.0,
    ),
    (
        "Boulangerie & Viennoiseries",
        &["pains", "viennoiseries", "patisseries"],
        2.1,
    ),
    (
        "Produits Surgelés & Préparés",
        &["pizzas", "legumes surgeles", "glaces"],
        4.0,
    ),
    (
        "Jouets & Jeux",
        &["jeux de societe", "peluches", "construction"],
        21.0,
    ),
    (
        "Soins de la Maison",
        &["lessives", "vaisselle", "nettoyants"],
        5.0,
    ),
];
const BRANDS: &[&str] = &[
    "panzani",
    "lustucru",
    "bonne maman",
    "carrefour",
    "danone",
    "president",
    "lu",
    "nestle",
    "evian",
    "herta",
    "fleury michon",
    "dop",
    "colgate",
    "ushuaia",
    "bic",
    "stanley",
    "lego",
    "ariel",
];
const SIZES: &[&str] = &[
    "250g", "500g", "1kg", "1l", "1.5l", "6x1l", "x4", "x12", "200ml", "lot de 2",
];
const FIRST_NAMES: &[&str] = &[
    "Laure",
    "Christian",
    "Solène",
    "Amand",
    "Emmanuel",
    "Claire",
    "Karim",
    "Julie",
    "Thomas",
    "Nadia",
    "Hugo",
    "Inès",
    "Marc",
    "Sophie",
    "Yanis",
    "Léa",
];
const LAST_NAMES: &[&str] = &[
    "Maret", "Vérany", "Deslys", "Coquelin", "Grosjean", "Martin", "Bernard", "Dubois", "Lefèvre",
    "Moreau", "Girard", "Roux", "Fournier", "Lambert",
];
/// Calendar range of the export's `Dim_Date`.
const CALENDAR_FIRST: (i32, u32, u32) = (2020, 1, 1);
const CALENDAR_LAST: (i32, u32, u32) = (2025, 6, 21);
/// The user that ran the late batch load.
pub const BATCH_USER: &str = "etl_batch";
const PRICING_USER: &str = "pricing";

/// Excel's serial date (the export's `date_id`): days since 1899-12-30.
pub fn excel_serial(date: NaiveDate) -> i64 {
    (date - NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid epoch")).num_days()
}

/// The store is closed on Sundays and on French fixed-date public holidays.
pub fn is_closing_day(date: NaiveDate) -> bool {
    const HOLIDAYS: &[(u32, u32)] = &[
        (1, 1),
        (5, 1),
        (5, 8),
        (7, 14),
        (8, 15),
        (11, 1),
        (11, 11),
        (12, 25),
    ];
    date.weekday() == chrono::Weekday::Sun || HOLIDAYS.contains(&(date.month(), date.day()))
}

/// Writes one file of the export in the real layout: UTF-8 BOM, `;`, CRLF, no trailing newline.
fn write_export(dir: &Path, name: &str, header: &str, rows: &[String]) -> Result<()> {
    let mut text = String::with_capacity(rows.len() * 64);
    text.push('\u{feff}');
    text.push_str(header);
    for row in rows {
        text.push_str("\r\n");
        text.push_str(row);
    }
    // Written beside the target and renamed: a reader never sees half a file, and two runs
    // generating the same data at once cannot corrupt it.
    // Unique per process and per call: tests generate the same folder from several threads.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{call}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(Error::io(&tmp))?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path).map_err(Error::io(&path))
}

/// An EAN-13 with a valid check digit, as the integer the export stores (leading zeros lost).
fn ean13(rng: &mut ChaCha8Rng) -> u64 {
    let digits: Vec<u32> = (0..12).map(|_| rng.random_range(0..10)).collect();
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { *d } else { d * 3 })
        .sum();
    let check = (10 - sum % 10) % 10;
    digits
        .iter()
        .chain(std::iter::once(&check))
        .fold(0u64, |acc, d| acc * 10 + *d as u64)
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &'a [&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn code(rng: &mut ChaCha8Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// A price in cents: log-normal around the department's typical price, at least 0.10 €.
fn price_cents(rng: &mut ChaCha8Rng, typical: f64) -> i64 {
    // Box–Muller from two uniforms: the rand crate's distributions stay out of the build.
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    ((typical * (0.55 * normal).exp() * 100.0).round() as i64).max(10)
}

fn money(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// Squaring a uniform skews choices towards the catalogue's first products: best sellers.
fn popular(rng: &mut ChaCha8Rng, len: usize) -> usize {
    let u: f64 = rng.random();
    ((u * u) * len as f64) as usize
}

/// The fact rows and log rows written so far, with their running ids.
#[derive(Default)]
struct Inserts {
    sale_id: u64,
    sales: Vec<String>,
    log: Vec<String>,
}

impl Inserts {
    /// One sale: its fact row and the five INSERT rows of the log, one per field.
    #[allow(clippy::too_many_arguments)]
    fn sale(
        &mut self,
        ean: u64,
        date: NaiveDate,
        user: &str,
        at: NaiveDateTime,
        ticket: u64,
        customer: &str,
        employee: &str,
    ) {
        self.sale_id += 1;
        let (sale_id, serial) = (self.sale_id, excel_serial(date));
        self.sales.push(format!(
            "{sale_id};{ean};{customer};{employee};{serial};t_{ticket}"
        ));
        let at = at.format("%Y-%m-%d %H:%M:%S");
        for (field, value) in [
            ("produit_id", ean.to_string()),
            ("customer_id", customer.to_string()),
            ("employee_id", employee.to_string()),
            ("date_id", serial.to_string()),
            ("ticket_id", format!("t_{ticket}")),
        ] {
            self.log.push(format!(
                "{user};{at};INSERT;Fact_vente;{sale_id};{field};{value}"
            ));
        }
    }
}

struct Product {
    ean: u64,
    cents: i64,
}

/// Generates the export and the insertion log into `dir`; returns the files' references and
/// what was planted.
pub fn generate(plan: &Plan, dir: &Path) -> Result<(Vec<DatasetRef>, Planted)> {
    let bad = |message: String| Error::Usage(format!("chapter `supersmartmarket`: {message}"));
    let end = plan.start + Duration::days(plan.days as i64 - 1);
    if plan.days < 2 || plan.late_day < plan.start || plan.late_day >= end {
        return Err(bad(format!(
            "`late_day={}` must fall in the sales period {} … {} and not on its last day",
            plan.late_day, plan.start, end
        )));
    }
    if is_closing_day(plan.late_day) {
        return Err(bad(format!(
            "`late_day={}` is a closing day: the store sold nothing that day",
            plan.late_day
        )));
    }
    if plan.products < 10
        || plan.customers < 1
        || plan.staff < 1
        || plan.price_updates > plan.products
    {
        return Err(bad("need at least 10 products, 1 customer, 1 employee, and no more price updates than products".into()));
    }
    let calendar_first =
        NaiveDate::from_ymd_opt(CALENDAR_FIRST.0, CALENDAR_FIRST.1, CALENDAR_FIRST.2).unwrap();
    let calendar_last =
        NaiveDate::from_ymd_opt(CALENDAR_LAST.0, CALENDAR_LAST.1, CALENDAR_LAST.2).unwrap();
    if plan.start < calendar_first || end > calendar_last {
        return Err(bad(format!(
            "the sales period must lie within the calendar {calendar_first} … {calendar_last}"
        )));
    }
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);

    // Calendar: the export's Dim_Date, Sunday = 1 as in Excel's WEEKDAY.
    let mut calendar = Vec::new();
    let mut day = calendar_first;
    while day <= calendar_last {
        calendar.push(format!(
            "{};{};{};{};{};{};Q{};{}",
            excel_serial(day),
            day.year(),
            day.month(),
            day.day(),
            crate::french::MONTHS[day.month0() as usize],
            day.weekday().num_days_from_sunday() + 1,
            day.month0() / 3 + 1,
            day
        ));
        day += Duration::days(1);
    }

    // Products: a catalogue whose popularity is skewed (a few best sellers).
    let mut products = Vec::with_capacity(plan.products as usize);
    let mut product_rows = Vec::with_capacity(plan.products as usize);
    let mut seen = BTreeSet::new();
    while products.len() < plan.products as usize {
        let ean = ean13(&mut rng);
        if !seen.insert(ean) {
            continue;
        }
        let (department, aisles, typical) = DEPARTMENTS[rng.random_range(0..DEPARTMENTS.len())];
        let aisle = pick(&mut rng, aisles);
        let cents = price_cents(&mut rng, typical);
        let label = format!(
            "{} {} {}",
            aisle,
            pick(&mut rng, BRANDS),
            pick(&mut rng, SIZES)
        );
        products.push(Product { ean, cents });
        product_rows.push((department, aisle, label));
    }

    let customers: Vec<String> = (0..plan.customers)
        .map(|_| {
            format!(
                "CUST-{}",
                code(&mut rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 12)
            )
        })
        .collect();
    let customer_rows: Vec<String> = customers
        .iter()
        .map(|c| {
            let signed_up = calendar_first
                + Duration::days(rng.random_range(0..(plan.start - calendar_first).num_days()));
            format!("{c};{signed_up}")
        })
        .collect();
    let staff: Vec<String> = (0..plan.staff)
        .map(|_| code(&mut rng, b"0123456789abcdef", 32))
        .collect();
    let staff_rows: Vec<String> = staff
        .iter()
        .map(|id| {
            let (first, last) = (pick(&mut rng, FIRST_NAMES), pick(&mut rng, LAST_NAMES));
            let hired = calendar_first
                + Duration::days(rng.random_range(0..(plan.start - calendar_first).num_days()));
            let email = format!(
                "{}{}@supersmartmarket.fr",
                first.chars().next().unwrap().to_lowercase(),
                last.to_lowercase()
            );
            format!("{id};{first};{last};{};{email}", excel_serial(hired))
        })
        .collect();

    // Sales, in insertion order: each open day's tills insert in real time; the late batch of
    // `late_day` is inserted the next morning by the batch user.
    let mut out = Inserts::default();
    let mut ticket = 0u64;
    // The products sold each day (the late batch with its sale day), for the price effect.
    let mut sales_by_day: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
    let mut late_batch_revenue = 0i64;
    // Price of each repriced product before its update: the sale-time price of the late day.
    let mut original_cents: BTreeMap<usize, i64> = BTreeMap::new();
    let mut date = plan.start;
    while date <= end {
        if !is_closing_day(date) {
            // ±15 % around the daily volume, split into tickets of 1–45 items.
            let volume = (plan.sales_per_day as f64 * rng.random_range(0.85..1.15)).round() as u32;
            let opening = date.and_time(NaiveTime::from_hms_opt(8, 30, 0).unwrap());
            let mut written = 0u32;
            while written < volume {
                ticket += 1;
                let items = rng.random_range(1..=45).min(volume - written);
                let customer = customers[rng.random_range(0..customers.len())].clone();
                let employee = staff[rng.random_range(0..staff.len())].clone();
                // Tickets spread over the 12 opening hours.
                let at =
                    opening + Duration::seconds((written as i64 * 43_200) / volume.max(1) as i64);
                for _ in 0..items {
                    let product = popular(&mut rng, products.len());
                    sales_by_day.entry(date).or_default().push(product);
                    out.sale(
                        products[product].ean,
                        date,
                        &employee,
                        at,
                        ticket,
                        &customer,
                        &employee,
                    );
                }
                written += items;
            }
        }
        if date == plan.late_day {
            // The late batch: one till's sales of `late_day`, inserted at 06:00 the next day.
            let next_morning =
                (date + Duration::days(1)).and_time(NaiveTime::from_hms_opt(6, 0, 0).unwrap());
            let employee = staff[rng.random_range(0..staff.len())].clone();
            let mut in_ticket = 0;
            for i in 0..plan.late_batch {
                if in_ticket == 0 {
                    ticket += 1;
                    in_ticket = rng.random_range(1..=45);
                }
                in_ticket -= 1;
                let customer = customers[rng.random_range(0..customers.len())].clone();
                let product = popular(&mut rng, products.len());
                sales_by_day.entry(date).or_default().push(product);
                late_batch_revenue += products[product].cents;
                let at = next_morning + Duration::seconds(i as i64 / 10);
                out.sale(
                    products[product].ean,
                    date,
                    BATCH_USER,
                    at,
                    ticket,
                    &customer,
                    &employee,
                );
            }
        }
        if date == plan.late_day + Duration::days(1) {
            // The price updates of the next day, at 07:00, after the late batch: distinct
            // products among the best sellers, each changed by −5 % … +20 %, never by zero.
            let mut changed = BTreeSet::new();
            let pool = (products.len() / 4).max(plan.price_updates as usize);
            let mut k = 0;
            while changed.len() < plan.price_updates as usize {
                let p = rng.random_range(0..pool.min(products.len()));
                if !changed.insert(p) {
                    continue;
                }
                let old = products[p].cents;
                original_cents.insert(p, old);
                let mut new = ((old as f64) * rng.random_range(0.95..1.20)).round() as i64;
                if new == old {
                    new += 1;
                }
                products[p].cents = new.max(1);
                let at = date.and_time(NaiveTime::from_hms_opt(7, 0, 0).unwrap())
                    + Duration::seconds(k * 20);
                out.log.push(format!(
                    "{PRICING_USER};{};UPDATE;Dim_Produit;{};Prix;{} -> {}",
                    at.format("%Y-%m-%d %H:%M:%S"),
                    products[p].ean,
                    money(old),
                    money(products[p].cents)
                ));
                k += 1;
            }
        }
        date += Duration::days(1);
    }

    // The price effect per day, from the generator's own bookkeeping: the updates run at
    // 07:00 the day after `late_day`, so a sale up to then was sold at the price before them
    // (the late batch, inserted at 06:00, included), and a later sale at today's price.
    let updated_at = plan.late_day + Duration::days(1);
    let price_effect_by_day: BTreeMap<NaiveDate, Decimal> = sales_by_day
        .iter()
        .map(|(day, sold)| {
            let cents: i64 = if *day < updated_at {
                sold.iter()
                    .map(|p| {
                        original_cents
                            .get(p)
                            .map_or(0, |old| products[*p].cents - old)
                    })
                    .sum()
            } else {
                0
            };
            (*day, money(cents))
        })
        .collect();

    let mut product_lines = Vec::with_capacity(products.len());
    for (p, (department, aisle, label)) in products.iter().zip(&product_rows) {
        product_lines.push(format!(
            "{};{department};{aisle};{label};{}",
            p.ean,
            money(p.cents)
        ));
    }

    let files: [(&str, &str, &Vec<String>); 6] = [
        (
            FACT,
            "vente_id;produit_id;customer_id;employee_id;date_id;ticket_id",
            &out.sales,
        ),
        (
            PRODUCTS,
            "Produit_id;Categorie;Rayon;Libelle_produit;Prix",
            &product_lines,
        ),
        (CUSTOMERS, "Customer_id;date_inscription", &customer_rows),
        (
            CALENDAR,
            "Date_id;Annee;Mois;Jour;Mois_nom;Jour_semaine;Trimestre;Date_form",
            &calendar,
        ),
        (STAFF, "Employee_id;Prenom;Nom;Date_id;Email", &staff_rows),
        (
            LOG,
            "id_user;date;action;table_insert;id_ligne;champs;detail",
            &out.log,
        ),
    ];
    let mut refs = Vec::new();
    for (name, header, rows) in files {
        write_export(dir, name, header, rows)?;
        refs.push(dataset_ref(dir, name, Some(rows.len() as u64))?);
    }
    let planted = Planted {
        late_day: plan.late_day,
        late_batch_rows: plan.late_batch as u64,
        late_batch_revenue: money(late_batch_revenue),
        price_updates: plan.price_updates as u64,
        price_effect_by_day,
        sales: out.sales.len() as u64,
    };
    Ok((refs, planted))
}
