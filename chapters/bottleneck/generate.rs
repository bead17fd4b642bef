//! The book's default data: a seeded generator that writes the three course exports' layouts
//! (as CSV, same names and columns) with each of their traps planted by a parameter, after a
//! study of the real files (`../shared/reference/bottleneck`, never committed):
//!
//! - ERP: 825 products, `product_id, onsale_web, price, stock_quantity, stock_status`;
//!   2 negative prices (products not on the web), 2 stocks of −1, statuses that contradict the
//!   quantity ("outofstock" with stock; the gift card "instock" with none).
//! - Links: `product_id, id_web`, one per ERP product; 91 with no id_web, 20 pointing to a sku
//!   the web shop does not list (2 of those are web products that lost their sku); most skus
//!   are numbers, a few are text (`bon-cadeau-25-euros`, `13127-1`).
//! - Web: 28 WooCommerce columns; every listed sku twice (a `product` row and its image, an
//!   `attachment` row whose total_sales may differ), 83 blank rows (only the default zeros),
//!   2 product rows without a sku, and — a trap the real file does not hold but a month's
//!   export can — exact duplicate rows.
//!
//! `Planted` is the generator's own account of what it planted and of the true revenue, so
//! tests compare the flow's findings with a truth computed without SQL.

use std::io::Write;
use std::path::Path;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::dataset::dataset_ref;
use crate::error::{Error, Result};
use crate::notebook::DatasetRef;

/// The ERP export's file name.
pub const ERP: &str = "Fichier_erp.csv";
/// The web shop export's file name.
pub const WEB: &str = "Fichier_web.csv";
/// The link table's file name (ERP product id → web sku).
pub const LINKS: &str = "fichier_liaison.csv";

/// What to generate: sizes and trap counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Seed of the generator: the same plan and seed give the same bytes.
    pub seed: u64,
    /// Products in the ERP (one link row each).
    pub products: usize,
    /// Web rows holding only the default zeros.
    pub blank_rows: usize,
    /// Web rows written twice, byte for byte.
    pub duplicate_rows: usize,
    /// Web product rows without a sku.
    pub missing_skus: usize,
    /// ERP products whose link has no id_web.
    pub missing_links: usize,
    /// Links pointing to a sku the web shop does not list.
    pub dangling_links: usize,
    /// ERP products with a negative price.
    pub negative_prices: usize,
    /// ERP products with a stock of −1.
    pub negative_stocks: usize,
    /// ERP statuses that contradict the stock quantity.
    pub contradicting_status: usize,
    /// Web skus whose attachment row's total_sales differs from the product row's.
    pub attachment_sales_differ: usize,
    /// Whether the gift card (a text sku, "instock" with no stock) is listed.
    pub gift_card: bool,
}

/// What was planted, and the truth the flow must find.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Planted {
    /// Rows written to the ERP export.
    pub erp_rows: usize,
    /// Rows written to the web export, blank and duplicate rows included.
    pub web_rows: usize,
    /// Distinct products the web shop lists.
    pub web_products: usize,
    /// Products found in all three files (ERP, link, web).
    pub reconciled: usize,
    /// The true revenue of the reconciled products (price × total_sales), computed without SQL.
    pub revenue: Decimal,
    /// Negative prices planted.
    pub negative_prices: usize,
    /// Stocks of −1 planted.
    pub negative_stocks: usize,
    /// Contradicting statuses, the gift card's included.
    pub contradicting_status: usize,
    /// Blank web rows planted.
    pub blank_rows: usize,
    /// Web product rows without a sku planted.
    pub missing_skus: usize,
    /// Duplicate web rows planted.
    pub duplicate_rows: usize,
    /// Skus whose attachment's total_sales differs.
    pub attachment_sales_differ: usize,
    /// Gift cards listed.
    pub gift_cards: usize,
    /// Links without an id_web.
    pub missing_links: usize,
}

#[derive(Clone)]
struct Product {
    id: i64,
    price: Decimal,
    stock: i64,
    status: &'static str,
    onsale: bool,
    /// The sku in the link table (None: no link).
    link: Option<String>,
    /// Listed on the web shop with its sku.
    listed: bool,
    /// On the web shop, but its row lost its sku.
    lost_sku: bool,
    title: String,
    sales: i64,
}

const PRODUCERS: [&str; 24] = [
    "Château du Couvent",
    "Domaine de la Romanée",
    "Parés Baltà",
    "Pierre Jean Villa",
    "Domaine Huet",
    "Château Pradeaux",
    "Domaine Weinbach",
    "Clos du Mont-Olivet",
    "Domaine Tempier",
    "Château de Beaucastel",
    "Domaine Zind-Humbrecht",
    "Maison Chapoutier",
    "Domaine Leflaive",
    "Château Simone",
    "Domaine Gauby",
    "Château Montus",
    "Domaine de Trévallon",
    "Domaine Ostertag",
    "Clos Rougeard",
    "Domaine Jamet",
    "Château Palmer",
    "Domaine Vacheron",
    "Mas Jullien",
    "Domaine Roulot",
];
const APPELLATIONS: [&str; 24] = [
    "Pomerol",
    "Penedès Indigena",
    "Condrieu",
    "Vouvray Le Mont",
    "Bandol",
    "Châteauneuf-du-Pape",
    "Riesling Grand Cru",
    "Côte Rôtie",
    "Meursault",
    "Palette",
    "Côtes du Roussillon",
    "Madiran",
    "Alpilles",
    "Sylvaner Vieilles Vignes",
    "Saumur-Champigny",
    "Margaux",
    "Sancerre",
    "Terrasses du Larzac",
    "Hermitage",
    "Crozes-Hermitage",
    "Saint-Joseph",
    "Chablis Premier Cru",
    "Gigondas",
    "Cornas",
];

fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.to_lowercase().chars() {
        let c = match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c if c.is_ascii_alphanumeric() => c,
            _ => '-',
        };
        if c != '-' || !out.ends_with('-') {
            out.push(c);
        }
    }
    out.trim_matches('-').to_string()
}

/// A price as Excel shows it: integral prices without decimals, others with one or two.
fn price_text(p: Decimal) -> String {
    p.normalize().to_string()
}

/// A standard normal draw (Box–Muller), from the seeded generator.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Writes the three files into `dir`; returns their references and what was planted.
pub fn generate(plan: &Plan, dir: &Path) -> Result<(Vec<DatasetRef>, Planted)> {
    let chapter = super::CHAPTER;
    let bad = |m: String| Error::Usage(format!("chapter `{chapter}`: {m}"));
    let unlisted = plan.missing_links + plan.dangling_links;
    if unlisted + plan.gift_card as usize + plan.negative_stocks + plan.contradicting_status
        > plan.products
    {
        return Err(bad(format!(
            "{} products cannot hold the traps asked for",
            plan.products
        )));
    }
    if plan.missing_skus > plan.dangling_links {
        return Err(bad("missing_skus must not exceed dangling_links (a product that lost its sku has a link to nowhere)".into()));
    }
    if plan.negative_prices > unlisted {
        return Err(bad("negative prices are planted on products not sold on the web: raise missing_links or dangling_links".into()));
    }
    let listed_count = plan.products - unlisted;
    if plan.attachment_sales_differ > listed_count || plan.duplicate_rows > listed_count {
        return Err(bad(
            "more attachment or duplicate traps than listed products".into(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);

    // Products, ids ascending with gaps like the ERP's.
    let mut products = Vec::with_capacity(plan.products);
    let mut id = 3847;
    let mut used_skus = std::collections::BTreeSet::new();
    for _ in 0..plan.products {
        let price = (3.21 + 0.74 * normal(&mut rng)).exp().clamp(5.0, 240.0);
        let price = Decimal::from_f64_retain((price * 10.0).round() / 10.0)
            .unwrap_or_default()
            .round_dp(1);
        let stock = if rng.random_bool(0.22) {
            0
        } else {
            rng.random_range(1..150)
        };
        let title = format!(
            "{} {} {}",
            PRODUCERS[rng.random_range(0..PRODUCERS.len())],
            APPELLATIONS[rng.random_range(0..APPELLATIONS.len())],
            rng.random_range(2012..2020)
        );
        let sales = if rng.random_bool(0.45) {
            0
        } else {
            (rng.random_range(0.0f64..1.0).powi(3) * 25.0) as i64 + 1
        };
        products.push(Product {
            id,
            price,
            stock,
            status: if stock > 0 { "instock" } else { "outofstock" },
            onsale: true,
            link: None,
            listed: true,
            lost_sku: false,
            title,
            sales,
        });
        id += rng.random_range(1..4);
    }
    // Which products are on the web, which have no link, which link to nowhere.
    let mut order: Vec<usize> = (0..plan.products).collect();
    order.shuffle(&mut rng);
    let (missing, rest) = order.split_at(plan.missing_links);
    let (dangling, listed) = rest.split_at(plan.dangling_links);
    let mut new_sku = |rng: &mut ChaCha8Rng| loop {
        let sku = rng.random_range(10_000..20_000).to_string();
        if used_skus.insert(sku.clone()) {
            return sku;
        }
    };
    for &i in missing {
        products[i].listed = false;
        products[i].onsale = false;
    }
    for (k, &i) in dangling.iter().enumerate() {
        products[i].listed = false;
        products[i].lost_sku = k < plan.missing_skus;
        products[i].onsale = products[i].lost_sku;
        products[i].link = Some(new_sku(&mut rng));
    }
    for (k, &i) in listed.iter().enumerate() {
        // A few variants carry a suffix, as '13127-1' does in the real export.
        let sku = new_sku(&mut rng);
        products[i].link = Some(if k % 300 == 299 {
            format!("{sku}-1")
        } else {
            sku
        });
    }
    // Traps on distinct products: each product carries at most one.
    let mut planted = Planted::default();
    let mut traps: Vec<usize> = listed.to_vec();
    traps.shuffle(&mut rng);
    let mut traps = traps.into_iter();
    if plan.gift_card {
        let p = &mut products[traps.next().expect("checked above")];
        p.link = Some("bon-cadeau-25-euros".into());
        p.title = "Bon cadeau de 25€".into();
        p.price = Decimal::from(25);
        (p.stock, p.status) = (0, "instock");
        planted.gift_cards = 1;
        planted.contradicting_status += 1;
    }
    for _ in 0..plan.negative_stocks {
        let p = &mut products[traps.next().expect("checked above")];
        (p.stock, p.status) = (-1, "outofstock");
    }
    for _ in 0..plan.contradicting_status {
        let p = &mut products[traps.next().expect("checked above")];
        (p.stock, p.status) = (rng.random_range(1..40), "outofstock");
    }
    let mut unlisted_order: Vec<usize> = missing.iter().chain(dangling).copied().collect();
    unlisted_order.shuffle(&mut rng);
    for &i in unlisted_order.iter().take(plan.negative_prices) {
        products[i].price = -Decimal::from(rng.random_range(1..10));
    }
    planted.negative_prices = plan.negative_prices;
    planted.negative_stocks = plan.negative_stocks;
    planted.contradicting_status += plan.contradicting_status;

    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    // ERP and links, in product order.
    let mut erp = String::from("product_id,onsale_web,price,stock_quantity,stock_status\n");
    let mut links = String::from("product_id,id_web\n");
    for p in &products {
        erp.push_str(&format!(
            "{},{},{},{},{}\n",
            p.id,
            p.onsale as u8,
            price_text(p.price),
            p.stock,
            p.status
        ));
        links.push_str(&format!(
            "{},{}\n",
            p.id,
            p.link.clone().unwrap_or_default()
        ));
    }

    // Web rows: each listed product and its attachment, products that lost their sku, then
    // duplicates and blank rows, in a shuffled order like the export's.
    let mut rows: Vec<Vec<String>> = Vec::new();
    let listed_products: Vec<&Product> = products.iter().filter(|p| p.listed).collect();
    let mut differ: Vec<usize> = (0..listed_products.len()).collect();
    differ.shuffle(&mut rng);
    let differ: std::collections::BTreeSet<usize> = differ
        .into_iter()
        .take(plan.attachment_sales_differ)
        .collect();
    for (k, p) in listed_products.iter().enumerate() {
        let sku = p.link.clone().expect("listed products have a sku");
        rows.push(web_row(&mut rng, Some(&sku), p, "product", p.sales));
        let attachment_sales = if differ.contains(&k) {
            p.sales + rng.random_range(1..6)
        } else {
            p.sales
        };
        rows.push(web_row(
            &mut rng,
            Some(&sku),
            p,
            "attachment",
            attachment_sales,
        ));
        planted.revenue += p.price * Decimal::from(p.sales);
    }
    for p in products.iter().filter(|p| p.lost_sku) {
        rows.push(web_row(&mut rng, None, p, "product", p.sales));
    }
    let product_rows: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r[25] == "product" && !r[0].is_empty())
        .map(|(i, _)| i)
        .collect();
    let duplicates: Vec<Vec<String>> = product_rows
        .choose_multiple(&mut rng, plan.duplicate_rows)
        .map(|i| rows[*i].clone())
        .collect();
    rows.extend(duplicates);
    rows.shuffle(&mut rng);
    for _ in 0..plan.blank_rows {
        let mut blank = vec![String::new(); WEB_COLUMNS.len()];
        (blank[1], blank[2], blank[3]) = ("0".into(), "0".into(), "0".into());
        let at = rng.random_range(0..=rows.len());
        rows.insert(at, blank);
    }
    let mut web = WEB_COLUMNS.join(",");
    web.push('\n');
    for r in &rows {
        web.push_str(&r.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        web.push('\n');
    }

    planted.erp_rows = products.len();
    planted.web_rows = rows.len();
    planted.web_products = listed_products.len();
    planted.reconciled = listed_products.len();
    planted.blank_rows = plan.blank_rows;
    planted.missing_skus = plan.missing_skus;
    planted.duplicate_rows = plan.duplicate_rows;
    planted.attachment_sales_differ = plan.attachment_sales_differ;
    planted.missing_links = plan.missing_links;

    let mut refs = Vec::new();
    for (name, text) in [(ERP, erp), (WEB, web), (LINKS, links)] {
        // Written beside and renamed: a run reading these files never sees half of one.
        let path = dir.join(name);
        let mut f = tempfile::NamedTempFile::new_in(dir).map_err(Error::io(dir))?;
        f.write_all(text.as_bytes()).map_err(Error::io(&path))?;
        f.persist(&path).map_err(|e| Error::io(&path)(e.error))?;
        refs.push(dataset_ref(
            dir,
            name,
            Some(text.lines().count() as u64 - 1),
        )?);
    }
    Ok((refs, planted))
}

/// The 28 WooCommerce columns of the web export, in the course file's order.
pub const WEB_COLUMNS: [&str; 28] = [
    "sku",
    "virtual",
    "downloadable",
    "rating_count",
    "average_rating",
    "total_sales",
    "tax_status",
    "tax_class",
    "post_author",
    "post_date",
    "post_date_gmt",
    "post_content",
    "post_title",
    "post_excerpt",
    "post_status",
    "comment_status",
    "ping_status",
    "post_password",
    "post_name",
    "post_modified",
    "post_modified_gmt",
    "post_content_filtered",
    "post_parent",
    "guid",
    "menu_order",
    "post_type",
    "post_mime_type",
    "comment_count",
];

/// One web row in `WEB_COLUMNS` order.
fn web_row(
    rng: &mut ChaCha8Rng,
    sku: Option<&str>,
    p: &Product,
    post_type: &str,
    sales: i64,
) -> Vec<String> {
    let created = chrono::NaiveDate::from_ymd_opt(2018, 1, 1).expect("valid date")
        + chrono::Duration::days(rng.random_range(0..800));
    let created = created
        .and_hms_opt(
            rng.random_range(8..19),
            rng.random_range(0..60),
            rng.random_range(0..60),
        )
        .expect("valid time");
    let modified = chrono::NaiveDate::from_ymd_opt(2020, 8, 1).expect("valid date")
        + chrono::Duration::days(rng.random_range(0..28));
    let modified = modified
        .and_hms_opt(rng.random_range(8..19), rng.random_range(0..60), 2)
        .expect("valid time");
    let fmt = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let gmt = |t: chrono::NaiveDateTime| fmt(t - chrono::Duration::hours(2));
    let slug = slug(&p.title);
    let product = post_type == "product";
    let sku_text = sku.unwrap_or("").to_string();
    vec![
        sku_text.clone(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        sales.to_string(),
        if product {
            "taxable".into()
        } else {
            String::new()
        },
        String::new(),
        "2".into(),
        fmt(created),
        gmt(created),
        String::new(),
        p.title.clone(),
        if product {
            format!(
                "{}, une belle expression de son terroir, à ouvrir dès maintenant.",
                p.title
            )
        } else {
            String::new()
        },
        "publish".into(),
        "closed".into(),
        "closed".into(),
        String::new(),
        slug.clone(),
        fmt(modified),
        gmt(modified),
        String::new(),
        "0".into(),
        if product {
            format!(
                "https://www.bottle-neck.fr/?post_type=product&#038;p={}",
                sku_text
            )
        } else {
            format!("https://www.bottle-neck.fr/wp-content/uploads/2020/03/{slug}.jpg")
        },
        "0".into(),
        post_type.into(),
        if product {
            String::new()
        } else {
            "image/jpeg".into()
        },
        "0".into(),
    ]
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
