//! Charts drawn on the server as SVG: numbers in, shapes out, no script and no inline style
//! (colours are classes in the stylesheet), so the CSP needs no exception.

/// A score gauge: a half circle filled to `score` percent.
pub struct Gauge {
    /// The arc's path (`d`), empty when there is no score.
    pub arc: String,
    /// `good`, `fair` or `poor`: the colour class.
    pub class: &'static str,
    pub label: String,
}

const GAUGE_RADIUS: f64 = 80.0;
const GAUGE_CX: f64 = 100.0;
const GAUGE_CY: f64 = 100.0;

impl Gauge {
    pub fn new(score: Option<f64>) -> Self {
        let Some(score) = score.map(|s| s.clamp(0.0, 100.0)) else {
            return Self {
                arc: String::new(),
                class: "none",
                label: "–".into(),
            };
        };
        // From the left end of the half circle, clockwise over the top.
        let angle = std::f64::consts::PI * (1.0 - score / 100.0);
        let (x, y) = (
            GAUGE_CX + GAUGE_RADIUS * angle.cos(),
            GAUGE_CY - GAUGE_RADIUS * angle.sin(),
        );
        let start = GAUGE_CX - GAUGE_RADIUS;
        Self {
            arc: format!(
                "M {start:.1} {GAUGE_CY:.1} A {GAUGE_RADIUS} {GAUGE_RADIUS} 0 0 1 {x:.1} {y:.1}"
            ),
            class: match score {
                s if s >= 85.0 => "good",
                s if s >= 60.0 => "fair",
                _ => "poor",
            },
            label: format!("{score:.1}"),
        }
    }
}

/// One bar of a horizontal bar chart, as a width in percent.
pub struct Bar {
    pub label: String,
    pub value: String,
    pub width: u32,
}

impl Bar {
    /// A bar for `value` out of `max` (the longest bar is 100 %); no value draws no bar.
    pub fn new(label: String, value: Option<f64>, max: f64) -> Self {
        let width = match value {
            Some(v) if max > 0.0 => (100.0 * v / max).round().clamp(0.0, 100.0) as u32,
            _ => 0,
        };
        Self {
            label,
            value: value.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}")),
            width,
        }
    }
}

/// A trend line over `values` (0–100) in a `width` × `height` box: the `points` attribute of a
/// polyline, left to right in the order given.
pub fn trend_points(values: &[f64], width: f64, height: f64) -> String {
    let n = values.len();
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = if n > 1 {
                width * i as f64 / (n - 1) as f64
            } else {
                width / 2.0
            };
            let y = height - height * v.clamp(0.0, 100.0) / 100.0;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One cell of the 5×5 risk heat map, placed in the chart's box: likelihood 5 at the top,
/// impact 1 on the left, as risk registers draw it.
pub struct HeatCell {
    pub likelihood: u8,
    pub impact: u8,
    pub count: i64,
    /// `h0` (empty) to `h4` (the busiest cells): the colour class.
    pub class: &'static str,
    pub x: u32,
    pub y: u32,
    /// The cell's centre, where its count and the axis numbers go.
    pub cx: u32,
    pub cy: u32,
}

/// A heat map cell's side and the gap between cells, in the SVG's units.
pub const HEAT_CELL: u32 = 56;
const HEAT_GAP: u32 = 4;
/// Room on the left for the likelihood axis.
pub const HEAT_LEFT: u32 = 44;

/// The 25 cells of `cells[likelihood - 1][impact - 1]`, top row first.
pub fn heat_cells(cells: &[[i64; 5]; 5]) -> Vec<HeatCell> {
    let most = cells.iter().flatten().copied().max().unwrap_or(0);
    let step = HEAT_CELL + HEAT_GAP;
    let mut out = Vec::with_capacity(25);
    for likelihood in (1..=5u8).rev() {
        for impact in 1..=5u8 {
            let count = cells[usize::from(likelihood) - 1][usize::from(impact) - 1];
            let x = HEAT_LEFT + u32::from(impact - 1) * step;
            let y = u32::from(5 - likelihood) * step;
            out.push(HeatCell {
                likelihood,
                impact,
                count,
                class: intensity(count, most),
                x,
                y,
                cx: x + HEAT_CELL / 2,
                cy: y + HEAT_CELL / 2,
            });
        }
    }
    out
}

/// The colour class of a heat map cell: none, or one of four steps of the busiest cell.
fn intensity(n: i64, most: i64) -> &'static str {
    match (n, most) {
        (0, _) | (_, 0) => "h0",
        _ if n * 4 <= most => "h1",
        _ if n * 2 <= most => "h2",
        _ if n * 4 <= most * 3 => "h3",
        _ => "h4",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_gauge_ends_at_the_right_and_an_empty_one_at_the_left() {
        assert!(Gauge::new(Some(100.0)).arc.ends_with("180.0 100.0"));
        assert!(Gauge::new(Some(0.0)).arc.ends_with("20.0 100.0"));
        assert!(Gauge::new(Some(50.0)).arc.ends_with("100.0 20.0"));
        assert_eq!(Gauge::new(None).arc, "");
        assert_eq!(Gauge::new(Some(90.0)).class, "good");
        assert_eq!(Gauge::new(Some(10.0)).class, "poor");
    }

    #[test]
    fn trend_points_span_the_box_and_invert_the_axis() {
        assert_eq!(
            trend_points(&[0.0, 100.0], 100.0, 50.0),
            "0.0,50.0 100.0,0.0"
        );
        assert_eq!(trend_points(&[50.0], 100.0, 50.0), "50.0,25.0");
        assert_eq!(trend_points(&[], 100.0, 50.0), "");
    }

    #[test]
    fn bars_are_relative_to_the_longest() {
        assert_eq!(Bar::new("a".into(), Some(50.0), 100.0).width, 50);
        assert_eq!(Bar::new("a".into(), Some(5.0), 0.0).width, 0);
        assert_eq!(Bar::new("a".into(), None, 100.0).value, "–");
    }

    #[test]
    fn the_heat_map_puts_likely_risks_on_top_and_colours_by_the_busiest_cell() {
        let mut cells = [[0; 5]; 5];
        cells[4][0] = 8; // likelihood 5, impact 1
        cells[0][4] = 1; // likelihood 1, impact 5
        let drawn = heat_cells(&cells);
        assert_eq!(drawn.len(), 25);
        let top_left = &drawn[0];
        assert_eq!(
            (top_left.likelihood, top_left.impact, top_left.count),
            (5, 1, 8)
        );
        assert_eq!(
            (top_left.x, top_left.y, top_left.class),
            (HEAT_LEFT, 0, "h4")
        );
        let bottom_right = &drawn[24];
        assert_eq!((bottom_right.likelihood, bottom_right.impact), (1, 5));
        assert_eq!(bottom_right.class, "h1");
        assert!(bottom_right.y > top_left.y && bottom_right.x > top_left.x);
        assert!(
            drawn
                .iter()
                .filter(|c| c.count == 0)
                .all(|c| c.class == "h0")
        );
    }
}
