//! The relational schema diagram: one box per table (columns, types, PK/FK marks) and an
//! arrow from each foreign key to the column it references, drawn with plotters from the
//! catalog DuckDB reports, so the picture cannot drift from the database.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart::{ChartError, DrawError};
use crate::dictionary::TableInfo;
use crate::notebook::{ChartData, Drawing};

const BOX_WIDTH: i32 = 250;
const ROW: i32 = 18;
const HEADER: i32 = 24;
const GAP_X: i32 = 70;
const GAP_Y: i32 = 40;
const PER_ROW: usize = 3;

/// The top-left corner of each table's box, laid out in rows of three.
fn layout(tables: &[TableInfo]) -> (Vec<(i32, i32)>, (u32, u32)) {
    let mut positions = Vec::new();
    let mut y = 20;
    let mut width = 0;
    for chunk in tables.chunks(PER_ROW) {
        let tallest = chunk
            .iter()
            .map(|t| HEADER + ROW * t.columns.len() as i32)
            .max()
            .unwrap_or(0);
        for (i, _) in chunk.iter().enumerate() {
            let x = 20 + i as i32 * (BOX_WIDTH + GAP_X);
            positions.push((x, y));
            width = width.max(x + BOX_WIDTH + 20);
        }
        y += tallest + GAP_Y;
    }
    (positions, (width.max(1) as u32, y.max(1) as u32))
}

/// Draws the diagram: its SVG, and as its data one row per column (table, column, type,
/// key and what it references), which says in text what the boxes and arrows show.
pub fn diagram(tables: &[TableInfo]) -> Result<Drawing, ChartError> {
    let svg = draw(tables).map_err(|source| ChartError {
        title: "schema diagram".to_string(),
        source,
    })?;
    let rows = tables
        .iter()
        .flat_map(|table| {
            table.columns.iter().map(|column| {
                let key = if column.primary_key { "PK" } else { "" };
                let references = column
                    .references
                    .as_ref()
                    .map(|(t, c)| format!("{t}.{c}"))
                    .unwrap_or_default();
                vec![
                    table.name.clone(),
                    column.name.clone(),
                    column.data_type.to_lowercase(),
                    key.to_string(),
                    references,
                ]
            })
        })
        .collect();
    let columns = ["table", "column", "type", "primary key", "references"]
        .map(String::from)
        .to_vec();
    Ok(Drawing {
        svg,
        data: ChartData { columns, rows },
    })
}

fn draw(tables: &[TableInfo]) -> Result<String, DrawError> {
    let (positions, size) = layout(tables);
    let header_color = RGBColor(0, 114, 178);
    let key_color = RGBColor(213, 94, 0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        let row_y = |table: usize, column: usize| {
            positions[table].1 + HEADER + ROW * column as i32 + ROW / 2
        };
        // Arrows first, so boxes are drawn over their ends.
        for (ti, table) in tables.iter().enumerate() {
            for (ci, column) in table.columns.iter().enumerate() {
                let Some((ref_table, ref_column)) = &column.references else {
                    continue;
                };
                let Some(target) = tables.iter().position(|t| &t.name == ref_table) else {
                    continue;
                };
                let target_row = tables[target]
                    .columns
                    .iter()
                    .position(|c| &c.name == ref_column)
                    .unwrap_or(0);
                let (sx, sy) = (positions[ti].0, row_y(ti, ci));
                let (tx, ty) = (positions[target].0 + BOX_WIDTH, row_y(target, target_row));
                // Leave from the left edge, arrive at the right edge of the referenced key,
                // with an elbow in the gap between columns of boxes.
                let (start, end) = if positions[target].0 < positions[ti].0 {
                    ((sx, sy), (tx, ty))
                } else {
                    ((sx + BOX_WIDTH, sy), (positions[target].0, ty))
                };
                let elbow = if start.0 > end.0 {
                    start.0 - GAP_X / 2
                } else {
                    start.0 + GAP_X / 2
                };
                let path = vec![start, (elbow, start.1), (elbow, end.1), end];
                root.draw(&PathElement::new(path, key_color.mix(0.8).stroke_width(1)))?;
                root.draw(&Circle::new(end, 3, key_color.filled()))?;
            }
        }
        for (ti, table) in tables.iter().enumerate() {
            let (x, y) = positions[ti];
            let height = HEADER + ROW * table.columns.len() as i32;
            root.draw(&Rectangle::new(
                [(x, y), (x + BOX_WIDTH, y + height)],
                WHITE.filled(),
            ))?;
            root.draw(&Rectangle::new(
                [(x, y), (x + BOX_WIDTH, y + HEADER)],
                header_color.filled(),
            ))?;
            root.draw(&Rectangle::new(
                [(x, y), (x + BOX_WIDTH, y + height)],
                BLACK.mix(0.5).stroke_width(1),
            ))?;
            let title = ("sans-serif", 14)
                .into_font()
                .color(&WHITE)
                .pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(
                table.name.clone(),
                (x + 8, y + HEADER / 2),
                title,
            ))?;
            for (ci, column) in table.columns.iter().enumerate() {
                let cy = row_y(ti, ci);
                let mark = match (column.primary_key, column.references.is_some()) {
                    (true, true) => "PK FK",
                    (true, false) => "PK",
                    (false, true) => "FK",
                    (false, false) => "",
                };
                let left = ("sans-serif", 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center));
                let right = ("sans-serif", 11)
                    .into_font()
                    .color(&BLACK.mix(0.6))
                    .pos(Pos::new(HPos::Right, VPos::Center));
                let keyed = ("sans-serif", 10)
                    .into_font()
                    .color(&key_color)
                    .pos(Pos::new(HPos::Left, VPos::Center));
                root.draw(&Text::new(mark.to_string(), (x + 6, cy), keyed))?;
                root.draw(&Text::new(column.name.clone(), (x + 44, cy), left))?;
                root.draw(&Text::new(
                    column.data_type.to_lowercase(),
                    (x + BOX_WIDTH - 8, cy),
                    right,
                ))?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}
