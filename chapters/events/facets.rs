//! What an event is, as facets: the structured truth every description is written from and
//! every judgment is computed from (never from a model). Each facet value has the words an
//! event's description may use and, separately, the words a request may use in French and in
//! English, so that a request never simply repeats the description it should find.

use chrono::{Datelike, NaiveDate, Weekday};

/// A kind of event and the words for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kind {
    /// Short id: `concert.jazz`.
    pub id: &'static str,
    /// The family the kind belongs to (`concert`): a request for the family is partly
    /// satisfied by any of its kinds.
    pub family: &'static str,
    /// How descriptions name it.
    pub described: &'static [&'static str],
    /// How a French request names it.
    pub asked_fr: &'static [&'static str],
    /// How an English request names it.
    pub asked_en: &'static [&'static str],
    /// Whether it usually takes place indoors (the generator flips a share of them).
    pub indoor: bool,
    /// Its weight in the generated mix.
    pub weight: f64,
}

/// Every kind the generator writes, in families.
pub const KINDS: &[Kind] = &[
    Kind {
        id: "concert.jazz",
        family: "concert",
        described: &[
            "concert de jazz",
            "soirée jazz manouche",
            "quartet de jazz en live",
        ],
        asked_fr: &["de la musique jazz", "un groupe de jazz"],
        asked_en: &["live jazz", "a jazz gig"],
        indoor: true,
        weight: 4.0,
    },
    Kind {
        id: "concert.rock",
        family: "concert",
        described: &[
            "concert de rock",
            "soirée rock avec trois groupes locaux",
            "scène rock",
        ],
        asked_fr: &["du rock en live", "un groupe de rock"],
        asked_en: &["a rock show", "live rock music"],
        indoor: true,
        weight: 4.0,
    },
    Kind {
        id: "concert.classique",
        family: "concert",
        described: &[
            "concert de musique classique",
            "récital de piano",
            "orchestre de chambre",
        ],
        asked_fr: &["de la musique classique", "un récital"],
        asked_en: &["classical music", "a piano recital"],
        indoor: true,
        weight: 3.0,
    },
    Kind {
        id: "concert.electro",
        family: "concert",
        described: &[
            "soirée électro",
            "DJ set électro",
            "nuit de la musique électronique",
        ],
        asked_fr: &["des sons électroniques", "une soirée DJ"],
        asked_en: &["electronic music", "a DJ night"],
        indoor: true,
        weight: 3.0,
    },
    Kind {
        id: "expo.photo",
        family: "exposition",
        described: &[
            "exposition de photographie",
            "accrochage de tirages photographiques",
            "expo photo",
        ],
        asked_fr: &["des photographies à voir", "une galerie de photos"],
        asked_en: &["a photography exhibition", "photos on show"],
        indoor: true,
        weight: 3.0,
    },
    Kind {
        id: "expo.peinture",
        family: "exposition",
        described: &[
            "exposition de peinture",
            "toiles de peintres de la région",
            "salon de peinture",
        ],
        asked_fr: &["des tableaux à découvrir", "une expo de peintres"],
        asked_en: &["a painting exhibition", "paintings on display"],
        indoor: true,
        weight: 3.0,
    },
    Kind {
        id: "atelier.poterie",
        family: "atelier",
        described: &[
            "atelier de poterie",
            "initiation au tour de potier",
            "atelier céramique et modelage",
        ],
        asked_fr: &["apprendre à travailler l'argile", "un cours de céramique"],
        asked_en: &["a pottery class", "learning to throw clay"],
        indoor: true,
        weight: 2.0,
    },
    Kind {
        id: "atelier.cuisine",
        family: "atelier",
        described: &[
            "atelier de cuisine",
            "cours de pâtisserie",
            "cuisine du marché avec un chef",
        ],
        asked_fr: &["un cours pour cuisiner", "apprendre des recettes"],
        asked_en: &["a cooking class", "learning to cook"],
        indoor: true,
        weight: 2.0,
    },
    Kind {
        id: "atelier.numerique",
        family: "atelier",
        described: &[
            "atelier numérique",
            "initiation à l'informatique",
            "atelier smartphone et tablette",
        ],
        asked_fr: &["de l'aide avec l'ordinateur", "se former au numérique"],
        asked_en: &["a computer skills session", "help with smartphones"],
        indoor: true,
        weight: 2.0,
    },
    Kind {
        id: "sport.course",
        family: "sport",
        described: &[
            "course à pied",
            "trail urbain de 10 km",
            "foulées solidaires",
        ],
        asked_fr: &["une course à laquelle participer", "courir avec d'autres"],
        asked_en: &["a running race", "a fun run"],
        indoor: false,
        weight: 3.0,
    },
    Kind {
        id: "sport.yoga",
        family: "sport",
        described: &["séance de yoga", "yoga au parc", "cours de yoga doux"],
        asked_fr: &["une séance d'étirements et de respiration", "du yoga"],
        asked_en: &["a yoga session", "yoga practice"],
        indoor: false,
        weight: 2.0,
    },
    Kind {
        id: "sport.velo",
        family: "sport",
        described: &[
            "balade à vélo",
            "randonnée cycliste",
            "sortie vélo encadrée",
        ],
        asked_fr: &["une sortie en bicyclette", "pédaler en groupe"],
        asked_en: &["a bike ride", "group cycling"],
        indoor: false,
        weight: 2.0,
    },
    Kind {
        id: "visite.patrimoine",
        family: "visite",
        described: &[
            "visite guidée du centre historique",
            "découverte du patrimoine avec un guide",
            "visite commentée des monuments",
        ],
        asked_fr: &[
            "découvrir les vieux quartiers avec un guide",
            "une visite des monuments",
        ],
        asked_en: &[
            "a guided heritage tour",
            "a walk through the old town with a guide",
        ],
        indoor: false,
        weight: 3.0,
    },
    Kind {
        id: "visite.nature",
        family: "visite",
        described: &[
            "balade nature commentée",
            "sortie ornithologique",
            "découverte de la faune et de la flore",
        ],
        asked_fr: &["observer les oiseaux", "une promenade nature avec un guide"],
        asked_en: &["a nature walk", "birdwatching"],
        indoor: false,
        weight: 2.0,
    },
    Kind {
        id: "spectacle.theatre",
        family: "spectacle",
        described: &[
            "pièce de théâtre",
            "comédie en deux actes",
            "représentation théâtrale",
        ],
        asked_fr: &["aller voir une pièce", "du théâtre"],
        asked_en: &["a play", "a theatre show"],
        indoor: true,
        weight: 3.0,
    },
    Kind {
        id: "spectacle.cirque",
        family: "spectacle",
        described: &[
            "spectacle de cirque",
            "acrobates et jongleurs",
            "cirque contemporain sous chapiteau",
        ],
        asked_fr: &["des acrobates", "un spectacle sous chapiteau"],
        asked_en: &["a circus show", "acrobats and jugglers"],
        indoor: true,
        weight: 2.0,
    },
    Kind {
        id: "marche.producteurs",
        family: "marché",
        described: &[
            "marché de producteurs",
            "marché paysan",
            "vente directe de producteurs locaux",
        ],
        asked_fr: &[
            "acheter des produits de la ferme",
            "des producteurs du coin",
        ],
        asked_en: &["a farmers' market", "local produce"],
        indoor: false,
        weight: 2.0,
    },
    Kind {
        id: "marche.brocante",
        family: "marché",
        described: &["brocante", "vide-greniers", "marché aux puces"],
        asked_fr: &[
            "chiner des objets anciens",
            "un déballage d'objets d'occasion",
        ],
        asked_en: &["a flea market", "a car boot sale"],
        indoor: false,
        weight: 2.0,
    },
];

/// Who an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Audience {
    /// Anyone.
    Everyone,
    /// Children (with their parents).
    Children,
    /// Families.
    Families,
    /// Older people.
    Seniors,
    /// Students.
    Students,
}

impl Audience {
    /// Every audience, with its weight in the generated mix.
    pub const ALL: [(Audience, f64); 5] = [
        (Audience::Everyone, 6.0),
        (Audience::Children, 1.5),
        (Audience::Families, 1.5),
        (Audience::Seniors, 1.0),
        (Audience::Students, 1.0),
    ];

    /// Its id, as the events file writes it.
    pub fn id(self) -> &'static str {
        match self {
            Audience::Everyone => "tout_public",
            Audience::Children => "enfants",
            Audience::Families => "familles",
            Audience::Seniors => "seniors",
            Audience::Students => "etudiants",
        }
    }

    /// The audience an id names.
    pub fn from_id(id: &str) -> Option<Audience> {
        Audience::ALL.iter().map(|(a, _)| *a).find(|a| a.id() == id)
    }

    /// How descriptions say it.
    pub fn described(self) -> &'static [&'static str] {
        match self {
            Audience::Everyone => &["Tout public.", "Ouvert à tous."],
            Audience::Children => &["Jeune public, dès 6 ans.", "Pour les enfants accompagnés."],
            Audience::Families => &["En famille.", "Pensé pour les familles."],
            Audience::Seniors => &["Réservé aux seniors.", "Pour les plus de 60 ans."],
            Audience::Students => &[
                "Pour les étudiants, sur présentation de la carte.",
                "Public étudiant.",
            ],
        }
    }

    /// How a French request says it.
    pub fn asked_fr(self) -> &'static [&'static str] {
        match self {
            Audience::Everyone => &[""],
            Audience::Children => &["pour mes enfants", "adapté aux petits"],
            Audience::Families => &["à faire en famille", "avec toute la famille"],
            Audience::Seniors => &["pour une personne âgée", "pour les retraités"],
            Audience::Students => &["pour un étudiant", "pour les jeunes à la fac"],
        }
    }

    /// How an English request says it.
    pub fn asked_en(self) -> &'static [&'static str] {
        match self {
            Audience::Everyone => &[""],
            Audience::Children => &["for my kids", "suitable for young children"],
            Audience::Families => &["for the whole family", "family-friendly"],
            Audience::Seniors => &["for elderly people", "for retirees"],
            Audience::Students => &["for students", "for university students"],
        }
    }
}

/// The Saturday and Sunday of the week-end `today` belongs to or, on a weekday, the next one.
pub fn weekend_of(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let days_to_saturday = match today.weekday() {
        Weekday::Sun => -1,
        day => (Weekday::Sat.num_days_from_monday() as i64) - (day.num_days_from_monday() as i64),
    };
    let saturday = today + chrono::Duration::days(days_to_saturday);
    (saturday, saturday + chrono::Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weekend_of_a_weekday_is_the_next_one_and_of_a_sunday_its_own() {
        let wed = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let sat = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let sun = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        assert_eq!(weekend_of(wed), (sat, sun));
        assert_eq!(weekend_of(sat), (sat, sun));
        assert_eq!(weekend_of(sun), (sat, sun));
    }

    #[test]
    fn kind_ids_are_unique_and_requests_never_reuse_a_description_verbatim() {
        let mut ids: Vec<&str> = KINDS.iter().map(|k| k.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), KINDS.len());
        for kind in KINDS {
            for asked in kind.asked_fr.iter().chain(kind.asked_en) {
                assert!(
                    !kind
                        .described
                        .iter()
                        .any(|d| d.contains(asked) || asked.contains(d)),
                    "{}: {asked:?} repeats a description",
                    kind.id
                );
            }
        }
    }
}
