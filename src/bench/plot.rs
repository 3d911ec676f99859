//! Line charts as SVG files, drawn with `plotters`: one line per server model
//! against the number of concurrent clients on a logarithmic x axis, with the
//! legend beside the plot (never on top of the lines) and the same colour and
//! marker for a model in every chart.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text (a model name).
    pub name: String,
    /// `(x, y, solid)` points in x order; a hollow marker (`solid == false`)
    /// flags a point whose run had failures.
    pub points: Vec<(f64, f64, bool)>,
}

/// What to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title line.
    pub title: String,
    /// Smaller line under the title (conditions of the run).
    pub subtitle: String,
    /// x axis description.
    pub x_label: String,
    /// y axis description.
    pub y_label: String,
    /// Logarithmic y axis (else linear from zero).
    pub log_y: bool,
    /// The lines.
    pub series: Vec<Series>,
    /// Dashed horizontal reference lines: `(y, label)`.
    pub refs: Vec<(f64, String)>,
    /// A note under the legend (what hollow markers mean, say).
    pub legend_note: Option<String>,
}

/// Canvas size in pixels.
const WIDTH: u32 = 960;
const HEIGHT: u32 = 560;
/// Width of the legend column on the right.
const LEGEND: u32 = 190;

/// A colour per model, fixed so the charts agree with each other.
pub fn model_color(name: &str) -> RGBColor {
    match name {
        "iterative" => RGBColor(0x79, 0x70, 0x6e),
        "fork" => RGBColor(0x9c, 0x75, 0x5f),
        "prefork" => RGBColor(0xd3, 0x72, 0x95),
        "thread" => RGBColor(0xf2, 0x8e, 0x2b),
        "pool" => RGBColor(0xb6, 0x99, 0x2d),
        "select" => RGBColor(0xb0, 0x7a, 0xa1),
        "poll" => RGBColor(0x49, 0x98, 0x94),
        "epoll" => RGBColor(0x4e, 0x79, 0xa7),
        "async" => RGBColor(0x59, 0xa1, 0x4f),
        _ => RGBColor(0xe1, 0x57, 0x59),
    }
}

/// Marker shapes: processes are triangles, threads squares, readiness loops
/// circles, async a diamond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Triangle,
    Square,
    Circle,
    Diamond,
}

fn model_shape(name: &str) -> Shape {
    match name {
        "iterative" | "fork" | "prefork" => Shape::Triangle,
        "thread" | "pool" => Shape::Square,
        "async" => Shape::Diamond,
        _ => Shape::Circle,
    }
}

/// Draws one marker at pixel `(x, y)` on `area`.
fn marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    (x, y): (i32, i32),
    shape: Shape,
    color: RGBColor,
    solid: bool,
) -> Result<()> {
    let style = if solid {
        color.filled()
    } else {
        color.stroke_width(2)
    };
    let r = 5;
    let tri = vec![
        (x, y - r - 1),
        (x - r - 1, y + r - 1),
        (x + r + 1, y + r - 1),
    ];
    let dia = vec![
        (x, y - r - 1),
        (x + r + 1, y),
        (x, y + r + 1),
        (x - r - 1, y),
    ];
    match shape {
        Shape::Circle => area.draw(&Circle::new((x, y), r, style)),
        Shape::Square => area.draw(&Rectangle::new(
            [(x - r + 1, y - r + 1), (x + r - 1, y + r - 1)],
            style,
        )),
        Shape::Triangle | Shape::Diamond => {
            let pts = if shape == Shape::Triangle { tri } else { dia };
            if solid {
                area.draw(&Polygon::new(pts, style))
            } else {
                // Polygons only fill: a white fill, then the outline.
                area.draw(&Polygon::new(pts.clone(), WHITE.filled()))
                    .map_err(draw_err)?;
                let mut ring = pts.clone();
                ring.push(pts[0]);
                area.draw(&PathElement::new(ring, color.stroke_width(2)))
            }
        }
    }
    .map_err(draw_err)
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the chart: {e:?}")
}

/// `1`, `10`, `1k`, `10k` for client counts.
pub fn count_label(v: f64) -> String {
    if v >= 1000.0 {
        let k = v / 1000.0;
        if (k - k.round()).abs() < 1e-9 {
            format!("{}k", k.round())
        } else {
            format!("{k:.1}k")
        }
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}")
    }
}

/// A short number for an axis: 0.05, 1.5, 20, 1.2k, 35k.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 10_000.0 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1000.0 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    // 1.0k -> 1k, 2.0 -> 2
    match s.find(".0") {
        Some(i)
            if s[i + 2..].chars().all(|c| !c.is_ascii_digit()) && !s[i + 1..].starts_with("00") =>
        {
            format!("{}{}", &s[..i], &s[i + 2..])
        }
        _ => s,
    }
}

/// Writes `chart` as an SVG file at `path`.
pub fn write_svg(path: &Path, chart: &Chart) -> Result<()> {
    let svg = render_svg(chart)?;
    std::fs::write(path, svg).map_err(|e| anyhow!("writing {}: {e}", path.display()))
}

/// Renders `chart` to SVG text.
pub fn render_svg(chart: &Chart) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND);

        // x: clients, log scale with some room either side.
        let xs: Vec<f64> = chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        let (xmin, xmax) = bounds(&xs).unwrap_or((1.0, 10.0));
        let x_range = (xmin / 1.6)..(xmax * 1.6);

        let ys: Vec<f64> = chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .chain(chart.refs.iter().map(|r| r.0))
            .filter(|y| y.is_finite() && (!chart.log_y || *y > 0.0))
            .collect();
        let (ymin, ymax) = bounds(&ys).unwrap_or((1.0, 10.0));
        if chart.log_y {
            let lo = 10f64.powf((ymin / 1.5).log10().floor());
            let hi = 10f64.powf((ymax * 1.5).log10().ceil());
            draw_plot(&plot_area, chart, x_range, (lo..hi).log_scale())?;
        } else {
            let hi = nice_ceiling(ymax * 1.08);
            draw_plot(&plot_area, chart, x_range, 0.0..hi)?;
        }
        draw_legend(&legend_area, chart)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

fn bounds(v: &[f64]) -> Option<(f64, f64)> {
    let mut it = v.iter().copied().filter(|x| x.is_finite());
    let first = it.next()?;
    let (lo, hi) = it.fold((first, first), |(lo, hi), x| (lo.min(x), hi.max(x)));
    if hi > lo {
        Some((lo, hi))
    } else {
        Some((lo * 0.5, hi * 2.0 + 1.0))
    }
}

/// Rounds up to 1, 2, 2.5 or 5 times a power of ten.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

fn draw_plot<DB, Y>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &Chart,
    x_range: std::ops::Range<f64>,
    y_spec: Y,
) -> Result<()>
where
    DB: DrawingBackend,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    // Title and the run's conditions above the plot.
    let (w, _) = area.dim_in_pixel();
    let centered = plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Top,
    );
    area.draw(&Text::new(
        chart.title.clone(),
        (w as i32 / 2, 12),
        ("sans-serif", 22)
            .into_font()
            .style(FontStyle::Bold)
            .color(&BLACK)
            .pos(centered),
    ))
    .map_err(draw_err)?;
    area.draw(&Text::new(
        chart.subtitle.clone(),
        (w as i32 / 2, 42),
        ("sans-serif", 14)
            .into_font()
            .color(&RGBColor(0x55, 0x55, 0x55))
            .pos(centered),
    ))
    .map_err(draw_err)?;
    let mut cc = ChartBuilder::on(area)
        .margin(12)
        .margin_top(70)
        .x_label_area_size(52)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range.log_scale(), y_spec)
        .map_err(draw_err)?;
    cc.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_label_formatter(&|v| count_label(*v))
        .y_label_formatter(&|v| short_number(*v))
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .light_line_style(RGBColor(0xf3, 0xf3, 0xf3))
        .bold_line_style(RGBColor(0xd8, 0xd8, 0xd8))
        .draw()
        .map_err(draw_err)?;

    let (xr, _) = (cc.x_range(), cc.y_range());
    for (y, label) in &chart.refs {
        let grey = RGBColor(0x66, 0x66, 0x66);
        let dashes = dashed(xr.start, xr.end, *y, 24);
        for seg in dashes {
            cc.draw_series(LineSeries::new(seg, grey.stroke_width(1)))
                .map_err(draw_err)?;
        }
        cc.draw_series(std::iter::once(Text::new(
            label.clone(),
            (xr.start * 1.08, *y),
            ("sans-serif", 13).into_font().color(&grey),
        )))
        .map_err(draw_err)?;
    }

    for s in &chart.series {
        let color = model_color(&s.name);
        let pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.1)).collect();
        cc.draw_series(LineSeries::new(pts, color.stroke_width(3)))
            .map_err(draw_err)?;
    }
    // Markers on top of all lines, drawn in pixel space.
    let plotting = cc.plotting_area();
    for s in &chart.series {
        let color = model_color(&s.name);
        let shape = model_shape(&s.name);
        for &(x, y, solid) in &s.points {
            let (px, py) = plotting.map_coordinate(&(x, y));
            let (ox, oy) = plotting.get_base_pixel();
            let _ = (ox, oy);
            marker(
                &plotting.strip_coord_spec(),
                (px - ox, py - oy),
                shape,
                color,
                solid,
            )?;
        }
    }
    Ok(())
}

/// Dash segments of a horizontal line on a log x axis.
fn dashed(x0: f64, x1: f64, y: f64, n: usize) -> Vec<Vec<(f64, f64)>> {
    let (l0, l1) = (x0.ln(), x1.ln());
    let step = (l1 - l0) / (2 * n) as f64;
    (0..n)
        .map(|i| {
            let a = l0 + step * (2 * i) as f64;
            vec![(a.exp(), y), ((a + step).exp(), y)]
        })
        .collect()
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &Chart,
) -> Result<()> {
    let top = 90;
    let row = 30;
    area.draw(&Text::new(
        "model",
        (12, top - 28),
        ("sans-serif", 15).into_font().style(FontStyle::Bold),
    ))
    .map_err(draw_err)?;
    for (i, s) in chart.series.iter().enumerate() {
        let y = top + row * i as i32;
        let color = model_color(&s.name);
        area.draw(&PathElement::new(
            vec![(12, y), (52, y)],
            color.stroke_width(3),
        ))
        .map_err(draw_err)?;
        marker(area, (32, y), model_shape(&s.name), color, true)?;
        // A model with no point in this chart says so instead of looking hidden.
        let empty = s.points.is_empty();
        let grey = RGBColor(0x88, 0x88, 0x88);
        let ink = if empty { grey } else { BLACK };
        area.draw(&Text::new(
            s.name.clone(),
            (62, y - 9),
            ("sans-serif", 16).into_font().color(&ink),
        ))
        .map_err(draw_err)?;
        if empty {
            area.draw(&Text::new(
                "no point in this chart",
                (62, y + 7),
                ("sans-serif", 11).into_font().color(&grey),
            ))
            .map_err(draw_err)?;
        }
    }
    if let Some(note) = &chart.legend_note {
        let mut y = top + row * chart.series.len() as i32 + 10;
        for line in wrap(note, 24) {
            area.draw(&Text::new(
                line,
                (12, y),
                ("sans-serif", 13)
                    .into_font()
                    .color(&RGBColor(0x55, 0x55, 0x55)),
            ))
            .map_err(draw_err)?;
            y += 17;
        }
    }
    Ok(())
}

/// Greedy word wrap at `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(log_y: bool) -> Chart {
        Chart {
            title: "throughput".into(),
            subtitle: "test".into(),
            x_label: "clients".into(),
            y_label: "requests/s".into(),
            log_y,
            series: vec![
                Series {
                    name: "epoll".into(),
                    points: vec![
                        (1.0, 100.0, true),
                        (10.0, 900.0, true),
                        (100.0, 1000.0, false),
                    ],
                },
                Series {
                    name: "fork".into(),
                    points: vec![(1.0, 50.0, true), (10.0, 0.5, true)],
                },
                Series {
                    name: "iterative".into(),
                    points: Vec::new(),
                },
            ],
            refs: vec![(200.0, "target".into())],
            legend_note: Some("hollow: errors".into()),
        }
    }

    #[test]
    fn renders_svg_with_legend() {
        for log_y in [false, true] {
            let svg = render_svg(&sample(log_y)).unwrap();
            assert!(svg.starts_with("<svg"), "{}", &svg[..50]);
            std::fs::write(format!("/tmp/plot-{log_y}.svg"), &svg).unwrap();
            assert!(svg.contains("\nepoll\n") && svg.contains("\nfork\n"));
            assert!(svg.contains("throughput"));
        }
    }

    #[test]
    fn labels() {
        assert_eq!(count_label(10_000.0), "10k");
        assert_eq!(count_label(100.0), "100");
        assert_eq!(short_number(35_000.0), "35k");
        assert_eq!(short_number(1500.0), "1.5k");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(1000.0), "1k");
        assert_eq!(short_number(1.0), "1");
        assert_eq!(short_number(0.05), "0.050");
        assert_eq!(nice_ceiling(83_000.0), 100_000.0);
        assert_eq!(nice_ceiling(21_000.0), 25_000.0);
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
    }
}
