//! Unit conversions to the document schema's metric units, and the parsing of Weather
//! Underground's values, which carry their unit in the text ("56.8 °F", with a no-break
//! space). Every conversion is a named function with its exact factor, tested both ways.

use crate::error::Reason;

/// 1 mile = 1.609344 km (exact, international mile).
pub const KM_PER_MILE: f64 = 1.609344;
/// 1 inch = 25.4 mm (exact).
pub const MM_PER_INCH: f64 = 25.4;
/// 1 inHg = 3386.389 Pa (conventional, at 0 °C and standard gravity), so 33.86389 hPa.
pub const HPA_PER_INHG: f64 = 33.86389;

/// °F to °C.
pub fn fahrenheit_to_celsius(f: f64) -> f64 {
    (f - 32.0) * 5.0 / 9.0
}
/// °C to °F.
pub fn celsius_to_fahrenheit(c: f64) -> f64 {
    c * 9.0 / 5.0 + 32.0
}
/// Miles per hour to km/h.
pub fn mph_to_kmh(mph: f64) -> f64 {
    mph * KM_PER_MILE
}
/// km/h to miles per hour.
pub fn kmh_to_mph(kmh: f64) -> f64 {
    kmh / KM_PER_MILE
}
/// Inches of mercury to hectopascals.
pub fn inhg_to_hpa(inhg: f64) -> f64 {
    inhg * HPA_PER_INHG
}
/// Hectopascals to inches of mercury.
pub fn hpa_to_inhg(hpa: f64) -> f64 {
    hpa / HPA_PER_INHG
}
/// Inches to millimetres (rain).
pub fn inches_to_mm(inches: f64) -> f64 {
    inches * MM_PER_INCH
}
/// Millimetres to inches.
pub fn mm_to_inches(mm: f64) -> f64 {
    mm / MM_PER_INCH
}

/// The sixteen compass points in order from north, clockwise; Weather Underground writes the
/// four cardinal ones as words.
pub const COMPASS: [&str; 16] = [
    "N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW",
    "NNW",
];

/// A compass point as degrees from north (N = 0, E = 90), or `None` if it is not one.
pub fn compass_to_degrees(text: &str) -> Option<f64> {
    let point = match text.trim() {
        "North" => "N",
        "East" => "E",
        "South" => "S",
        "West" => "W",
        other => other,
    };
    COMPASS
        .iter()
        .position(|p| *p == point)
        .map(|i| i as f64 * 22.5)
}

/// The compass point Weather Underground writes for a direction in degrees.
pub fn degrees_to_compass(degrees: f64) -> &'static str {
    let i = ((degrees.rem_euclid(360.0) / 22.5).round() as usize) % 16;
    match COMPASS[i] {
        "N" => "North",
        "E" => "East",
        "S" => "South",
        "W" => "West",
        p => p,
    }
}

/// Splits "56.8 °F" into 56.8 if the unit is `unit`; the error says what was found.
pub fn value_with_unit(text: &str, unit: &str) -> Result<f64, Reason> {
    let text = text.trim();
    let (number, found) = text
        .split_once('\u{a0}')
        .or_else(|| text.split_once(' '))
        .unwrap_or((text, ""));
    if found.trim() != unit {
        return Err(format!("`{text}`: expected a value in {unit}"));
    }
    parse_number(number).map_err(|e| format!("`{text}`: {e}"))
}

/// A decimal number as written in the sources (a dot, no grouping); `nan`/`inf` refused.
pub fn parse_number(text: &str) -> Result<f64, Reason> {
    let t = text.trim();
    let ok = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+');
    match t.parse::<f64>() {
        Ok(v) if ok && v.is_finite() => Ok(v),
        _ => Err(format!("`{t}` is not a number")),
    }
}

/// Rounds to `decimals` places for storage: converted values carry no more precision than
/// the sensor's (0.1 °F is 0.06 °C; 0.01 inHg is 0.34 hPa).
pub fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_points() {
        assert_eq!(fahrenheit_to_celsius(32.0), 0.0);
        assert_eq!(fahrenheit_to_celsius(212.0), 100.0);
        assert!((fahrenheit_to_celsius(56.8) - 13.777_777_8).abs() < 1e-6);
        assert!((mph_to_kmh(10.0) - 16.09344).abs() < 1e-12);
        assert!(
            (inhg_to_hpa(29.92) - 1013.21).abs() < 0.01,
            "standard atmosphere"
        );
        assert_eq!(inches_to_mm(1.0), 25.4);
        assert_eq!(compass_to_degrees("WSW"), Some(247.5));
        assert_eq!(compass_to_degrees("North"), Some(0.0));
        assert_eq!(compass_to_degrees("West"), Some(270.0));
        assert_eq!(compass_to_degrees("Variable"), None);
    }

    #[test]
    fn values_with_units() {
        assert_eq!(value_with_unit("56.8\u{a0}°F", "°F"), Ok(56.8));
        assert_eq!(value_with_unit("29.48\u{a0}in", "in"), Ok(29.48));
        assert_eq!(value_with_unit("0\u{a0}w/m²", "w/m²"), Ok(0.0));
        assert!(value_with_unit("56.8\u{a0}°C", "°F")
            .unwrap_err()
            .contains("expected a value in °F"));
        assert!(value_with_unit("--\u{a0}°F", "°F")
            .unwrap_err()
            .contains("not a number"));
        assert!(value_with_unit("NaN\u{a0}°F", "°F").is_err());
    }

    proptest! {
        #[test]
        fn conversions_round_trip(x in -1.0e4f64..1.0e4) {
            prop_assert!((celsius_to_fahrenheit(fahrenheit_to_celsius(x)) - x).abs() < 1e-9);
            prop_assert!((kmh_to_mph(mph_to_kmh(x)) - x).abs() < 1e-9);
            prop_assert!((hpa_to_inhg(inhg_to_hpa(x)) - x).abs() < 1e-9);
            prop_assert!((mm_to_inches(inches_to_mm(x)) - x).abs() < 1e-9);
        }

        #[test]
        fn compass_round_trips_on_its_points(i in 0usize..16) {
            let degrees = i as f64 * 22.5;
            prop_assert_eq!(compass_to_degrees(degrees_to_compass(degrees)), Some(degrees));
        }

        #[test]
        fn written_values_parse_back(v in -100.0f64..2000.0) {
            let text = format!("{v:.2}\u{a0}mph");
            prop_assert!((value_with_unit(&text, "mph").unwrap() - v).abs() < 0.0051);
        }
    }
}
