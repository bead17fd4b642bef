//! French calendar words, as French data writes dates (`samedi 5 décembre 2026`): the
//! generators of several chapters need them, so they are written once here.

use chrono::Weekday;

/// The month names, January first, lower case as French writes them.
pub const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// The French name of `month` (1 = janvier; out-of-range months wrap).
pub fn month(month: u32) -> &'static str {
    MONTHS[(month as usize + 11) % 12]
}

/// The French name of a weekday.
pub fn weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "lundi",
        Weekday::Tue => "mardi",
        Weekday::Wed => "mercredi",
        Weekday::Thu => "jeudi",
        Weekday::Fri => "vendredi",
        Weekday::Sat => "samedi",
        Weekday::Sun => "dimanche",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn january_is_month_one_and_december_twelve() {
        assert_eq!(super::month(1), "janvier");
        assert_eq!(super::month(12), "décembre");
        assert_eq!(super::weekday(chrono::Weekday::Sat), "samedi");
    }
}
