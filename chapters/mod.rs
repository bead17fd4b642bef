//! The ordered registry of the book's chapters: the one place that lists every chapter.
//! `src/lib.rs` includes this file; the engine only ever sees `&dyn Chapter`.

pub mod bottleneck;
pub mod events;
pub mod greencoop;
pub mod indutech;
pub mod laplace_immo;
pub mod noscites;
pub mod seattle;
pub mod supersmartmarket;

use crate::chapter::Chapter;

/// Every chapter, in book order.
pub fn all() -> Vec<&'static dyn Chapter> {
    vec![
        &supersmartmarket::SuperSmartMarket,
        &laplace_immo::LaplaceImmo,
        &indutech::InduTech,
        &bottleneck::BottleNeck,
        &greencoop::GreenCoop,
        &seattle::Seattle,
        &noscites::NosCites,
        &events::Events,
    ]
}
