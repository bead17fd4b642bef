//! Charts as inline SVG, drawn with plotters' SVG backend. plotters is built without its
//! `ttf` feature, so it never reads system fonts: text size is estimated and the browser draws
//! the text, which keeps every chart byte-identical across machines.

use plotters::prelude::*;

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

/// Draws `chart` and returns the SVG text.
pub fn line_chart(chart: &LineChart) -> Result<String, ChartError> {
    draw_line_chart(chart).map_err(|source| ChartError {
        title: chart.title.to_string(),
        source,
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
    {
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
            .y_desc(chart.y_label)
            .light_line_style(WHITE)
            .label_style(("sans-serif", 11))
            .draw()?;
        for (i, series) in chart.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let points: Vec<(i32, f64)> = series
                .values
                .iter()
                .enumerate()
                .map(|(x, y)| (x as i32, *y))
                .collect();
            plot.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(series.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            plot.draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
        }
        plot.configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 12))
            .draw()?;
        root.present()?;
    }
    Ok(svg)
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

/// A horizontal bar chart: one bar per category, longest first as given.
pub struct BarChart<'a> {
    /// The chart's title.
    pub title: &'a str,
    /// One label per bar.
    pub labels: Vec<String>,
    /// One value per bar.
    pub values: Vec<f64>,
    /// The value axis' title, with its unit.
    pub x_label: &'a str,
}

/// Draws `chart` and returns the SVG text.
pub fn bar_chart(chart: &BarChart) -> Result<String, ChartError> {
    draw_bar_chart(chart).map_err(|source| ChartError {
        title: chart.title.to_string(),
        source,
    })
}

fn draw_bar_chart(chart: &BarChart) -> Result<String, DrawError> {
    let n = chart.labels.len().max(1) as i32;
    let max = chart.values.iter().copied().fold(0f64, f64::max);
    let x_max = if max > 0.0 { max * 1.1 } else { 1.0 };
    let height = (60 + 26 * n).max(200) as u32;
    let mut svg = String::new();
    {
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
        let color = PALETTE[0];
        plot.draw_series(chart.values.iter().enumerate().map(|(i, v)| {
            let i = n - 1 - i as i32;
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (*v, SegmentValue::Exact(i + 1)),
                ],
                color.filled(),
            );
            bar.set_margin(3, 3, 0, 0);
            bar
        }))?;
        root.present()?;
    }
    Ok(svg)
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

/// Draws `chart` and returns the SVG text.
pub fn scatter_chart(chart: &ScatterChart) -> Result<String, ChartError> {
    draw_scatter_chart(chart).map_err(|source| ChartError {
        title: chart.title.to_string(),
        source,
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
    {
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
        let color = PALETTE[0];
        plot.draw_series(
            chart
                .points
                .iter()
                .map(|p| Circle::new(*p, 2, color.mix(0.55).filled())),
        )?;
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
        root.present()?;
    }
    Ok(svg)
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
    fn ticks_have_the_decimals_their_range_needs_and_group_thousands() {
        assert_eq!(tick(0.2, 1.12), "0.2");
        assert_eq!(tick(0.25, 0.5), "0.25");
        assert_eq!(tick(35000.0, 38000.0), "35,000");
        assert_eq!(tick(12.0, 56.0), "12");
    }
}
