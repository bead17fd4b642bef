//! Charts as inline SVG, drawn with plotters' SVG backend. plotters is built without its
//! `ttf` feature, so it never reads system fonts: text size is estimated and the browser draws
//! the text, which keeps every chart byte-identical across machines.

use plotters::prelude::*;

use super::html::html_escape;
use crate::notebook::{ChartData, Drawing};

/// What plotters' SVG backend reports when it cannot draw.
pub type DrawError = DrawingAreaErrorKind<std::io::Error>;

/// A chart that could not be drawn, named by its title.
#[derive(Debug, thiserror::Error)]
#[error("drawing the chart `{title}`")]
pub struct ChartError {
    /// The chart's title.
    pub title: String,
    /// What plotters said.
    #[source]
    pub source: DrawError,
}

/// One line of a line chart.
pub struct Series<'a> {
    /// The series' name, in the legend.
    pub name: &'a str,
    /// One value per category.
    pub values: Vec<f64>,
}

/// A line chart over categories (days, months…), one line per series.
pub struct LineChart<'a> {
    /// The chart's title.
    pub title: &'a str,
    /// The categories along the x axis.
    pub x_labels: Vec<String>,
    /// The x axis' title: what the categories are.
    pub x_label: &'a str,
    /// The y axis' title, with its unit.
    pub y_label: &'a str,
    /// The lines.
    pub series: Vec<Series<'a>>,
}

/// The book's palette, colour-blind friendly (Okabe–Ito).
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
];

const WIDTH: u32 = 820;
const HEIGHT: u32 = 380;

/// Draws `chart`: its SVG and its data.
pub fn line_chart(chart: &LineChart) -> Result<Drawing, ChartError> {
    let svg = draw_line_chart(chart).map_err(|source| ChartError {
        title: chart.title.to_string(),
        source,
    })?;
    let mut columns = vec![chart.x_label.to_string()];
    columns.extend(
        chart
            .series
            .iter()
            .map(|s| format!("{} ({})", s.name, chart.y_label)),
    );
    let rows = chart
        .x_labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let mut row = vec![label.clone()];
            row.extend(
                chart
                    .series
                    .iter()
                    .map(|s| s.values.get(i).map(|v| value_text(*v)).unwrap_or_default()),
            );
            row
        })
        .collect();
    Ok(Drawing {
        svg,
        data: ChartData { columns, rows },
    })
}

fn draw_line_chart(chart: &LineChart) -> Result<String, DrawError> {
    let n = chart.x_labels.len().max(1) as i32;
    let max = chart
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0f64, f64::max);
    // Headroom above the highest point, and a non-empty range when everything is zero.
    let y_max = if max > 0.0 { max * 1.12 } else { 1.0 };
    let mut svg = String::new();
    let (lines, area) = {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut plot = ChartBuilder::on(&root)
            .caption(chart.title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(84)
            .build_cartesian_2d(-1i32..n, 0f64..y_max)?;
        let labels = &chart.x_labels;
        plot.configure_mesh()
            .x_labels(label_count(labels, WIDTH - 84 - 24))
            .x_label_formatter(&|i| labels.get(*i as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|v| tick(*v, y_max))
            .x_desc(chart.x_label)
            .y_desc(chart.y_label)
            .light_line_style(WHITE)
            .label_style(("sans-serif", 11))
            .draw()?;
        // The lines are written by `Overlay`, not plotters, so that each is one group the
        // reader can hide and the script can find its points in.
        let lines: Vec<Vec<(i32, i32)>> = chart
            .series
            .iter()
            .map(|s| {
                s.values
                    .iter()
                    .enumerate()
                    .map(|(x, y)| plot.backend_coord(&(x as i32, *y)))
                    .collect()
            })
            .collect();
        let area = plot.plotting_area().get_pixel_range();
        root.present()?;
        (lines, area)
    };
    let mut overlay = Overlay::default();
    for (i, points) in lines.iter().enumerate() {
        overlay.line(i, chart.series[i].name, points);
    }
    let names: Vec<&str> = chart.series.iter().map(|s| s.name).collect();
    overlay.legend(&names, &area);
    Ok(overlay.into(svg))
}

/// How many category labels fit along an axis `length` pixels long without overlapping:
/// each takes its text's estimated width (11 px sans-serif, about 6.5 px a character, the
/// browser draws the text) and a gap. plotters then places at most that many, at evenly
/// spaced categories.
fn label_count(labels: &[String], length: u32) -> usize {
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as f64;
    let per_label = widest * 6.5 + 16.0;
    let fits = (f64::from(length) / per_label).floor() as usize;
    if fits >= labels.len() {
        // Every category labelled: the hint counts the empty slots on either side too.
        labels.len() + 2
    } else {
        fits.max(2)
    }
}

/// A value axis' tick label: as many decimals as the axis' range needs to tell its ticks
/// apart (a recall axis up to 1 shows `0.2`, not `0`), thousands grouped as in the prose.
fn tick(value: f64, range_max: f64) -> String {
    let decimals = match range_max.abs() {
        m if m >= 10.0 => 0,
        m if m >= 1.0 => 1,
        _ => 2,
    };
    crate::frame::group_digits(&format!("{value:.decimals$}"))
}

/// A value in a chart's data table: whole numbers as such, others to three decimals with
/// the trailing zeros dropped, thousands grouped as in the prose.
fn value_text(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let fixed = format!("{value:.3}");
        fixed
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    };
    // `-0.0001` rounds to `-0`, which a reader would take for a sign that means something.
    let text = if text == "-0" { "0".to_string() } else { text };
    crate::frame::group_digits(&text)
}

/// A horizontal bar chart: one bar per category, longest first as given.
pub struct BarChart<'a> {
    /// The chart's title.
    pub title: &'a str,
    /// One label per bar.
    pub labels: Vec<String>,
    /// What the labels are, the data table's first header.
    pub label_name: &'a str,
    /// One value per bar.
    pub values: Vec<f64>,
    /// The value axis' title, with its unit.
    pub x_label: &'a str,
}

/// Draws `chart`: its SVG and its data.
pub fn bar_chart(chart: &BarChart) -> Result<Drawing, ChartError> {
    let svg = draw_bar_chart(chart).map_err(|source| ChartError {
        title: chart.title.to_string(),
        source,
    })?;
    let rows = chart
        .labels
        .iter()
        .zip(&chart.values)
        .map(|(label, value)| vec![label.clone(), value_text(*value)])
        .collect();
    Ok(Drawing {
        svg,
        data: ChartData {
            columns: vec![chart.label_name.to_string(), chart.x_label.to_string()],
            rows,
        },
    })
}

fn draw_bar_chart(chart: &BarChart) -> Result<String, DrawError> {
    let n = chart.labels.len().max(1) as i32;
    let max = chart.values.iter().copied().fold(0f64, f64::max);
    let x_max = if max > 0.0 { max * 1.1 } else { 1.0 };
    let height = (60 + 26 * n).max(200) as u32;
    let mut svg = String::new();
    let bars = {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut plot = ChartBuilder::on(&root)
            .caption(chart.title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(230)
            .build_cartesian_2d(0f64..x_max, (0..n).into_segmented())?;
        let labels = &chart.labels;
        plot.configure_mesh()
            .y_labels(n as usize)
            .y_label_formatter(&|v| match v {
                // Segment 0 is at the bottom: the first category is drawn on top.
                SegmentValue::CenterOf(i) => labels
                    .get((n - 1 - *i) as usize)
                    .cloned()
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&|v| tick(*v, x_max))
            .x_desc(chart.x_label)
            .light_line_style(WHITE)
            .label_style(("sans-serif", 11))
            .draw()?;
        let bars: Vec<[(i32, i32); 2]> = chart
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let i = n - 1 - i as i32;
                [
                    plot.backend_coord(&(0.0, SegmentValue::Exact(i))),
                    plot.backend_coord(&(*v, SegmentValue::Exact(i + 1))),
                ]
            })
            .collect();
        root.present()?;
        bars
    };
    let mut overlay = Overlay::default();
    overlay.bars(chart.x_label, &bars);
    Ok(overlay.into(svg))
}

/// A scatter plot of (x, y) points, with an optional y = x diagonal (predicted vs actual)
/// or y = 0 line (residuals).
pub struct ScatterChart<'a> {
    /// The chart's title.
    pub title: &'a str,
    /// The x axis' title, with its unit.
    pub x_label: &'a str,
    /// The y axis' title, with its unit.
    pub y_label: &'a str,
    /// The points, (x, y).
    pub points: Vec<(f64, f64)>,
    /// `Some(true)`: draw y = x; `Some(false)`: draw y = 0.
    pub reference_line: Option<bool>,
}

/// Draws `chart`: its SVG and its data.
pub fn scatter_chart(chart: &ScatterChart) -> Result<Drawing, ChartError> {
    let svg = draw_scatter_chart(chart).map_err(|source| ChartError {
        title: chart.title.to_string(),
        source,
    })?;
    let rows = chart
        .points
        .iter()
        .map(|(x, y)| vec![value_text(*x), value_text(*y)])
        .collect();
    Ok(Drawing {
        svg,
        data: ChartData {
            columns: vec![chart.x_label.to_string(), chart.y_label.to_string()],
            rows,
        },
    })
}

fn draw_scatter_chart(chart: &ScatterChart) -> Result<String, DrawError> {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in &chart.points {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if chart.points.is_empty() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if chart.reference_line == Some(true) {
        // Same range on both axes, so the diagonal is at 45°.
        let (lo, hi) = (x0.min(y0), x1.max(y1));
        (x0, x1, y0, y1) = (lo, hi, lo, hi);
    }
    let pad = |lo: f64, hi: f64| {
        let span = (hi - lo).max(1e-9) * 0.05;
        (lo - span)..(hi + span)
    };
    let mut svg = String::new();
    let points = {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 460)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut plot = ChartBuilder::on(&root)
            .caption(chart.title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(pad(x0, x1), pad(y0, y1))?;
        plot.configure_mesh()
            .x_desc(chart.x_label)
            .y_desc(chart.y_label)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .light_line_style(WHITE)
            .label_style(("sans-serif", 11))
            .draw()?;
        match chart.reference_line {
            Some(true) => {
                plot.draw_series(LineSeries::new(
                    vec![(x0, x0), (x1, x1)],
                    PALETTE[5].stroke_width(1),
                ))?;
            }
            Some(false) => {
                plot.draw_series(LineSeries::new(
                    vec![(x0, 0.0), (x1, 0.0)],
                    PALETTE[5].stroke_width(1),
                ))?;
            }
            None => {}
        }
        let points: Vec<(i32, i32)> = chart.points.iter().map(|p| plot.backend_coord(p)).collect();
        root.present()?;
        points
    };
    let mut overlay = Overlay::default();
    overlay.points(chart.y_label, &points);
    Ok(overlay.into(svg))
}

/// The data marks of a chart, written as SVG text after plotters has drawn the frame (title,
/// axes, ticks): one `<g class="series">` per series, its marks in the order of the rows of
/// the chart's data, and a legend whose entries are buttons. The book's script reads these
/// to show a mark's row on hover and to hide a series; without the script (the Markdown
/// book, print) they are an ordinary static picture.
#[derive(Default)]
struct Overlay {
    text: String,
}

impl Overlay {
    fn open_series(&mut self, index: usize, name: &str) {
        self.text.push_str(&format!(
            "<g class=\"series\" data-series=\"{index}\" data-name=\"{}\">\n",
            html_escape(name)
        ));
    }

    fn line(&mut self, index: usize, name: &str, points: &[(i32, i32)]) {
        let color = hex(PALETTE[index % PALETTE.len()]);
        self.open_series(index, name);
        let path: Vec<String> = points.iter().map(|(x, y)| format!("{x},{y}")).collect();
        self.text.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n",
            path.join(" ")
        ));
        for (x, y) in points {
            self.text.push_str(&format!(
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{color}\"/>\n"
            ));
        }
        self.text.push_str("</g>\n");
    }

    fn bars(&mut self, name: &str, bars: &[[(i32, i32); 2]]) {
        let color = hex(PALETTE[0]);
        self.open_series(0, name);
        for [(x0, y0), (x1, y1)] in bars {
            // A 3-pixel gap above and below each bar, as plotters' own bars had.
            let top = y0.min(y1) + 3;
            let height = (y0.max(y1) - 3 - top).max(1);
            let left = x0.min(x1);
            let width = (x0.max(x1) - left).max(1);
            self.text.push_str(&format!(
                "<rect x=\"{left}\" y=\"{top}\" width=\"{width}\" height=\"{height}\" fill=\"{color}\"/>\n"
            ));
        }
        self.text.push_str("</g>\n");
    }

    fn points(&mut self, name: &str, points: &[(i32, i32)]) {
        let color = hex(PALETTE[0]);
        self.open_series(0, name);
        for (x, y) in points {
            self.text.push_str(&format!(
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"2\" fill=\"{color}\" fill-opacity=\"0.55\"/>\n"
            ));
        }
        self.text.push_str("</g>\n");
    }

    /// The legend, in the plot's lower right corner; each entry a button that the script
    /// turns into a toggle of its series.
    fn legend(&mut self, names: &[&str], area: &(std::ops::Range<i32>, std::ops::Range<i32>)) {
        const ROW: i32 = 18;
        let widest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as i32;
        let width = 18 + 8 + widest * 7 + 16;
        let height = ROW * names.len() as i32 + 8;
        let left = area.0.end - width - 8;
        let top = area.1.end - height - 8;
        self.text.push_str(&format!(
            "<g class=\"legend\">\n<rect x=\"{left}\" y=\"{top}\" width=\"{width}\" height=\"{height}\" fill=\"#FFFFFF\" fill-opacity=\"0.9\" stroke=\"#000000\" stroke-opacity=\"0.3\"/>\n"
        ));
        for (i, name) in names.iter().enumerate() {
            let color = hex(PALETTE[i % PALETTE.len()]);
            let y = top + 4 + ROW * i as i32 + ROW / 2;
            let x = left + 8;
            self.text.push_str(&format!(
                "<g class=\"legend-entry\" data-series=\"{i}\" role=\"button\" tabindex=\"0\" aria-pressed=\"true\">\
<rect x=\"{left}\" y=\"{}\" width=\"{width}\" height=\"{ROW}\" fill=\"#FFFFFF\" fill-opacity=\"0\"/>\
<line x1=\"{x}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"2\"/>\
<text x=\"{}\" y=\"{y}\" dy=\"0.35em\" font-family=\"sans-serif\" font-size=\"12\" fill=\"#000000\">{}</text></g>\n",
                y - ROW / 2,
                x + 18,
                x + 26,
                html_escape(name)
            ));
        }
        self.text.push_str("</g>\n");
    }

    /// `svg` with the overlay written just before its end.
    fn into(self, mut svg: String) -> String {
        let end = svg.rfind("</svg>").unwrap_or(svg.len());
        svg.insert_str(end, &self.text);
        svg
    }
}

fn hex(color: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", color.0, color.1, color.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_category_axis_labels_what_fits_and_a_short_one_labels_all() {
        let windows: Vec<String> = (0..288)
            .map(|i| format!("02 {:02}:{:02}", i / 12, i % 12 * 5))
            .collect();
        let fits = label_count(&windows, 712);
        // 8 characters at 6.5 px and a 16 px gap: 68 px a label.
        assert_eq!(fits, 10);
        let beams: Vec<String> = ["10", "16", "24", "40", "64", "128", "256"]
            .map(String::from)
            .to_vec();
        assert_eq!(label_count(&beams, 712), beams.len() + 2);
    }

    #[test]
    fn each_series_is_one_group_of_marks_in_the_order_of_its_data_rows() {
        let drawn = line_chart(&LineChart {
            title: "t",
            x_labels: vec!["a".into(), "b".into(), "c".into()],
            x_label: "day",
            y_label: "EUR",
            series: vec![
                Series {
                    name: "one & two",
                    values: vec![100.0, 600.5, 1234.0],
                },
                Series {
                    name: "other",
                    values: vec![0.0, 0.0, 3.0],
                },
            ],
        })
        .unwrap();
        assert_eq!(
            drawn.data.columns,
            ["day", "one & two (EUR)", "other (EUR)"]
        );
        assert_eq!(drawn.data.rows[2], ["c", "1,234", "3"]);
        let groups: Vec<&str> = drawn.svg.split("<g class=\"series\"").skip(1).collect();
        assert_eq!(groups.len(), 2);
        for group in &groups {
            let group = &group[..group.find("</g>").unwrap()];
            assert_eq!(group.matches("<circle").count(), 3);
        }
        // The marks climb with the values: a higher value is drawn higher (smaller y).
        let ys: Vec<i32> = groups[0]
            .split("cy=\"")
            .skip(1)
            .take(3)
            .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
            .collect();
        assert!(ys[0] > ys[1] && ys[1] > ys[2], "{ys:?}");
        assert_eq!(drawn.svg.matches("class=\"legend-entry\"").count(), 2);
        assert!(drawn.svg.contains("one &amp; two"));
        assert!(drawn.svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn bars_are_drawn_longest_as_given_and_their_rows_follow() {
        let drawn = bar_chart(&BarChart {
            title: "t",
            labels: vec!["north".into(), "south".into()],
            label_name: "region",
            values: vec![4000.0, 1000.5],
            x_label: "EUR per m²",
        })
        .unwrap();
        assert_eq!(drawn.data.rows, [["north", "4,000"], ["south", "1,000.5"]]);
        let widths: Vec<i32> = drawn
            .svg
            .split("<g class=\"series\"")
            .nth(1)
            .unwrap()
            .split("width=\"")
            .skip(1)
            .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
            .collect();
        assert_eq!(widths.len(), 2);
        assert!(widths[0] > 3 * widths[1], "{widths:?}");
    }

    #[test]
    fn data_values_read_as_the_prose_prints_them() {
        assert_eq!(value_text(12.0), "12");
        assert_eq!(value_text(0.8126), "0.813");
        assert_eq!(value_text(0.5), "0.5");
        assert_eq!(value_text(-0.0001), "0");
        assert_eq!(value_text(20254.52), "20,254.52");
    }

    #[test]
    fn ticks_have_the_decimals_their_range_needs_and_group_thousands() {
        assert_eq!(tick(0.2, 1.12), "0.2");
        assert_eq!(tick(0.25, 0.5), "0.25");
        assert_eq!(tick(35000.0, 38000.0), "35,000");
        assert_eq!(tick(12.0, 56.0), "12");
    }
}
