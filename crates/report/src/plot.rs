//! One chart description, two renderings: the same [`Chart`] is drawn to SVG (for papers) and to
//! PNG (for a quick look) by one generic drawing function, so the two never disagree.
//!
//! Text uses DejaVu Sans, compiled in (see `assets/DejaVuSans-LICENSE`): figures render the same
//! on a machine with no fonts installed.

use crate::ReportError;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::Once;

pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 800;
/// The legend has its own strip right of the plot, so it never covers data.
const LEGEND_W: u32 = 290;
const FONT: &str = "sans-serif";

/// Tableau 10: distinguishable, and readable in greyscale print by lightness.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stroke {
    Solid,
    Dashed,
    /// Markers only.
    None,
}

#[derive(Clone, Debug)]
pub struct Series {
    /// Legend entry; `None` keeps the series out of the legend.
    pub label: Option<String>,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    pub opacity: f64,
    pub width: u32,
    pub stroke: Stroke,
    pub markers: bool,
    /// Vertical error bars: (x, centre, low, high).
    pub errors: Vec<(f64, f64, f64, f64)>,
    /// What the series is called in the figure's data file when that is not its legend entry
    /// (a series kept out of the legend, such as one replicate of several).
    pub name: Option<String>,
}

impl Series {
    pub fn line(label: Option<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Series {
        Series {
            label,
            points,
            color,
            opacity: 1.0,
            width: 2,
            stroke: Stroke::Solid,
            markers: false,
            errors: vec![],
            name: None,
        }
    }
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    pub fn width(mut self, w: u32) -> Self {
        self.width = w;
        self
    }
    pub fn opacity(mut self, a: f64) -> Self {
        self.opacity = a;
        self
    }
    pub fn dashed(mut self) -> Self {
        self.stroke = Stroke::Dashed;
        self
    }
    /// Markers (and error bars) without a connecting line.
    pub fn points(mut self) -> Self {
        self.stroke = Stroke::None;
        self.markers = true;
        self
    }
    pub fn markers(mut self) -> Self {
        self.markers = true;
        self
    }
    pub fn errors(mut self, e: Vec<(f64, f64, f64, f64)>) -> Self {
        self.errors = e;
        self
    }
}

/// A shaded x-range (a partition, an attack).
#[derive(Clone, Debug)]
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub label: String,
    pub color: RGBColor,
}

#[derive(Clone, Debug)]
pub struct Chart {
    /// File stem under `figures/`.
    pub name: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x: (f64, f64),
    /// The y range in data units (for a log axis: positive values).
    pub y: (f64, f64),
    pub y_log: bool,
    /// Categorical x: labels at these positions, no others.
    pub x_ticks: Vec<(f64, String)>,
    pub bands: Vec<Band>,
    pub series: Vec<Series>,
}

impl Chart {
    pub fn new(name: impl Into<String>, title: impl Into<String>) -> Chart {
        Chart {
            name: name.into(),
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            x: (0.0, 1.0),
            y: (0.0, 1.0),
            y_log: false,
            x_ticks: vec![],
            bands: vec![],
            series: vec![],
        }
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let ok = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            include_bytes!("../assets/DejaVuSans.ttf"),
        );
        assert!(ok.is_ok(), "the bundled font is a valid TrueType file");
    });
}

/// The chart as an SVG document (deterministic: same chart, same bytes).
pub fn svg(c: &Chart) -> Result<String, ReportError> {
    register_font();
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (WIDTH, HEIGHT)).into_drawing_area();
        draw(root, c, Joins::Backend).map_err(|why| ReportError::Plot {
            figure: c.name.clone(),
            why,
        })?;
    }
    Ok(s)
}

/// The data the chart draws, as CSV (for redrawing it in another tool): a few `#` comment
/// lines (title, axis labels: x and y are in the axes' units), then one row per point
/// (`series` is its index, `name` its data name or legend entry, `y_low`/`y_high` the error bar
/// there, if any) and one per shaded range (`series` = `band`, from `x` to `x_to`).
pub fn data(c: &Chart) -> String {
    let mut out = format!(
        "# {}\n# x: {}\n# y: {}{}\n",
        c.title,
        c.x_label,
        c.y_label,
        if c.y_log { " (log axis)" } else { "" }
    );
    let num = |v: f64| v.to_string();
    let blank = String::new;
    let mut rows: Vec<Vec<String>> = vec![];
    for (i, s) in c.series.iter().enumerate() {
        let name = (s.name.clone())
            .or_else(|| s.label.clone())
            .unwrap_or_else(|| format!("series {i}"));
        let bar = |x: f64| s.errors.iter().find(|e| e.0 == x);
        let off_line = (s.errors.iter()).filter(|e| !s.points.iter().any(|p| p.0 == e.0));
        let points = (s.points.iter().map(|&(x, y)| (x, y, bar(x))))
            .chain(off_line.map(|e| (e.0, e.1, Some(e))));
        for (x, y, bar) in points {
            let (lo, hi) = bar.map_or((blank(), blank()), |e| (num(e.2), num(e.3)));
            rows.push(vec![
                i.to_string(),
                name.clone(),
                num(x),
                num(y),
                lo,
                hi,
                blank(),
            ]);
        }
    }
    for b in &c.bands {
        rows.push(vec![
            "band".into(),
            b.label.clone(),
            num(b.from),
            blank(),
            blank(),
            blank(),
            num(b.to),
        ]);
    }
    let header = ["series", "name", "x", "y", "y_low", "y_high", "x_to"].map(String::from);
    let bytes = crate::results::table(header.to_vec(), rows);
    out.push_str(&String::from_utf8(bytes).expect("the CSV of UTF-8 text is UTF-8"));
    out
}

/// Writes the chart into `dir` as `NAME.svg`, `NAME.png` and its data `NAME.csv` (see
/// [`data`]), each atomically. Returns the SVG (for pages that inline it) and the files.
pub fn write(
    dir: &std::path::Path,
    c: &Chart,
) -> Result<(String, Vec<std::path::PathBuf>), ReportError> {
    let svg = svg(c)?;
    let base = dir.join(&c.name);
    let files = [
        ("svg", svg.clone().into_bytes()),
        ("png", png(c)?),
        ("csv", data(c).into_bytes()),
    ];
    let mut written = vec![];
    for (ext, bytes) in files {
        let path = base.with_extension(ext);
        crate::write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok((svg, written))
}

/// The chart's pixels, row by row (8-bit RGB).
fn raster(c: &Chart) -> Result<Vec<u8>, ReportError> {
    register_font();
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        draw(root, c, Joins::None).map_err(|why| ReportError::Plot {
            figure: c.name.clone(),
            why,
        })?;
    }
    Ok(rgb)
}

/// The chart as a PNG file (8-bit RGB).
pub fn png(c: &Chart) -> Result<Vec<u8>, ReportError> {
    let rgb = raster(c)?;
    let mut out = vec![];
    {
        let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let err = |e: png::EncodingError| ReportError::Plot {
            figure: c.name.clone(),
            why: e.to_string(),
        };
        let mut w = enc.write_header().map_err(err)?;
        w.write_image_data(&rgb).map_err(err)?;
    }
    Ok(out)
}

fn log10(y: f64) -> f64 {
    libm::log10(y.max(1e-300))
}

/// Tick label for a log y axis drawn in log10 units: only at whole powers of ten.
fn pow10_label(v: f64) -> String {
    if (v - v.round()).abs() > 1e-9 {
        return String::new();
    }
    let k = v.round() as i32;
    if (-4..=4).contains(&k) {
        let x = 10f64.powi(k);
        format!("{}", x)
    } else {
        format!("1e{k}")
    }
}

/// A tick label without noise: "50", "0.25", "1.5e-5".
pub fn fmt_num(v: f64) -> String {
    if v.abs() < 1e-12 {
        return "0".into();
    }
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) && v.abs() < 1e9 {
        return format!("{}", v.round());
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.1e}");
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// How a thick line's segments meet.
#[derive(Clone, Copy, PartialEq)]
enum Joins {
    /// The backend's own joins (SVG: the viewer's, with its miter limit).
    Backend,
    /// No joins: segment by segment. The bitmap backend joins a thick polyline's segments
    /// with unbounded miters, so a dense series that dips and recovers within a pixel or two
    /// (a fork resolving) drew spikes far past its values, off the plot area.
    None,
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    c: &Chart,
    joins: Joins,
) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let labelled = c.series.iter().any(|s| s.label.is_some()) || !c.bands.is_empty();
    let (area, legend) = if labelled {
        let (a, l) = root.split_horizontally(WIDTH - LEGEND_W);
        (a, Some(l))
    } else {
        (root.clone(), None)
    };
    let ty = |y: f64| if c.y_log { log10(y) } else { y };
    let (y0, y1) = (ty(c.y.0), ty(c.y.1));
    let (x0, x1) = c.x;
    let mut chart = ChartBuilder::on(&area)
        .caption(&c.title, (FONT, 24))
        .margin(18)
        .x_label_area_size(64)
        .y_label_area_size(96)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    let xfmt = |v: &f64| {
        if c.x_ticks.is_empty() {
            return fmt_num(*v);
        }
        c.x_ticks
            .iter()
            .find(|(x, _)| (x - v).abs() < 1e-9)
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    };
    let yfmt = |v: &f64| {
        if c.y_log {
            pow10_label(*v)
        } else {
            fmt_num(*v)
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(c.x_label.as_str())
        .y_desc(c.y_label.as_str())
        .label_style((FONT, 17))
        .axis_desc_style((FONT, 20))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt);
    if !c.x_ticks.is_empty() {
        mesh.x_labels(c.x_ticks.len().max(2) * 4 + 1)
            .disable_x_mesh();
    }
    mesh.draw().map_err(e)?;
    for b in &c.bands {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(b.from.max(x0), y0), (b.to.min(x1), y1)],
                b.color.mix(0.15).filled(),
            )))
            .map_err(e)?;
    }
    for s in &c.series {
        let style = ShapeStyle {
            color: s.color.mix(s.opacity),
            filled: false,
            stroke_width: s.width,
        };
        let pts: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x, ty(y))).collect();
        match s.stroke {
            Stroke::Solid if s.width > 1 && joins == Joins::None => {
                chart
                    .draw_series(
                        pts.windows(2)
                            .map(|w| PathElement::new(vec![w[0], w[1]], style)),
                    )
                    .map_err(e)?;
            }
            Stroke::Solid => {
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), style))
                    .map_err(e)?;
            }
            Stroke::Dashed => {
                chart
                    .draw_series(DashedLineSeries::new(pts.iter().copied(), 12, 7, style))
                    .map_err(e)?;
            }
            Stroke::None => {}
        }
        if s.markers {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 5, style.filled())))
                .map_err(e)?;
        }
        chart
            .draw_series(s.errors.iter().map(|&(x, mid, lo, hi)| {
                ErrorBar::new_vertical(x, ty(lo), ty(mid), ty(hi), style, 12)
            }))
            .map_err(e)?;
    }
    if let Some(legend) = legend {
        draw_legend(&legend, c).map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

/// Legend text wrapped at word boundaries to fit the legend strip; a word longer than a line
/// (`network.loss_mode="retransmit"`) is cut into pieces that each start a line.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![];
    let mut cur = String::new();
    for w in text.split(' ') {
        for (i, piece) in pieces(w, width).into_iter().enumerate() {
            let full = cur.chars().count() + 1 + piece.chars().count() > width;
            if !cur.is_empty() && (i > 0 || full) {
                lines.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(piece);
        }
    }
    lines.push(cur);
    lines
}

/// `word` cut into pieces of at most `width` characters, each ending after the last `=`, `.`,
/// `_`, `,` or `/` within reach if there is one (so keys and values stay whole).
fn pieces(word: &str, width: usize) -> Vec<&str> {
    let mut out = vec![];
    let mut rest = word;
    while let Some((at, _)) = rest.char_indices().nth(width.max(1)) {
        let head = &rest[..at];
        let cut = head.rfind(['=', '.', '_', ',', '/']).map_or(at, |i| i + 1);
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

/// Characters per legend line (DejaVu Sans at 17 px averages under 9 px per character).
const LEGEND_CHARS: usize = 25;

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let mut y = 90;
    let text = (FONT, 17).into_font().color(&BLACK);
    for b in &c.bands {
        area.draw(&Rectangle::new(
            [(8, y - 8), (48, y + 8)],
            b.color.mix(0.15).filled(),
        ))?;
        for line in wrap(&b.label, LEGEND_CHARS) {
            area.draw(&Text::new(line, (56, y - 9), text.clone()))?;
            y += 21;
        }
        y += 7;
    }
    for s in c.series.iter().filter(|s| s.label.is_some()) {
        let style = ShapeStyle {
            color: s.color.mix(s.opacity.max(0.6)),
            filled: false,
            stroke_width: s.width.max(2),
        };
        match s.stroke {
            Stroke::Solid => area.draw(&PathElement::new(vec![(8, y), (48, y)], style))?,
            Stroke::Dashed => {
                area.draw(&PathElement::new(vec![(8, y), (22, y)], style))?;
                area.draw(&PathElement::new(vec![(32, y), (48, y)], style))?;
            }
            Stroke::None => {}
        }
        if s.markers {
            area.draw(&Circle::new((28, y), 5, style.filled()))?;
        }
        for line in wrap(s.label.as_deref().unwrap_or_default(), LEGEND_CHARS) {
            area.draw(&Text::new(line, (56, y - 9), text.clone()))?;
            y += 21;
        }
        y += 7;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The data file: comments, then per point its series, name (data name, else legend entry,
    /// else "series i"), coordinates and error bar; error bars off the line get rows of their
    /// own; bands come last.
    #[test]
    fn data_rows_name_every_series_and_keep_error_bars() {
        let mut c = Chart::new("t", "a, \"quoted\" title");
        c.x_label = "x (s)".into();
        c.y_label = "rate".into();
        c.y_log = true;
        c.series.push(
            Series::line(
                Some("mean, ± CI".into()),
                vec![(1.0, 0.5), (2.0, 0.25)],
                BLACK,
            )
            .errors(vec![(2.0, 0.25, 0.125, 0.375), (3.0, 0.1, 0.0, 0.2)]),
        );
        c.series.push(Series::line(None, vec![(0.5, 1.0)], BLACK));
        c.series
            .push(Series::line(None, vec![(0.5, 2.0)], BLACK).named("p000-r001"));
        c.bands.push(Band {
            from: 1.5,
            to: 2.5,
            label: "partition".into(),
            color: BLACK,
        });
        let text = data(&c);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "# a, \"quoted\" title",
                "# x: x (s)",
                "# y: rate (log axis)",
                "series,name,x,y,y_low,y_high,x_to",
                "0,\"mean, ± CI\",1,0.5,,,",
                "0,\"mean, ± CI\",2,0.25,0.125,0.375,",
                "0,\"mean, ± CI\",3,0.1,0,0.2,",
                "1,series 1,0.5,1,,,",
                "2,p000-r001,0.5,2,,,",
                "band,partition,1.5,,,,2.5",
            ]
        );
    }

    #[test]
    fn log_labels_only_at_powers_of_ten() {
        assert_eq!(pow10_label(-2.0), "0.01");
        assert_eq!(pow10_label(0.0), "1");
        assert_eq!(pow10_label(-6.0), "1e-6");
        assert_eq!(pow10_label(-2.5), "");
    }

    #[test]
    fn legend_text_wraps_at_words() {
        assert_eq!(
            wrap("mean of all per 2m", 10),
            vec!["mean of", "all per 2m"]
        );
        assert_eq!(wrap("short", 10), vec!["short"]);
        // A key=value longer than a line (it ran off the strip): cut after the `=`.
        assert_eq!(
            wrap("estimate, network.loss_mode=\"retransmit\"", 25),
            vec!["estimate,", "network.loss_mode=", "\"retransmit\""]
        );
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a.b.c.d.e", 4), vec!["a.b.", "c.d.", "e"]);
    }

    /// The rows (top, bottom) holding pixels of colour `c`.
    fn rows_of(rgb: &[u8], c: RGBColor) -> (usize, usize) {
        let rows: Vec<usize> = rgb
            .chunks(3)
            .enumerate()
            .filter(|(_, p)| p == &[c.0, c.1, c.2])
            .map(|(i, _)| i / WIDTH as usize)
            .collect();
        (rows[0], *rows.last().unwrap())
    }

    /// Regression: a thick line that dips for one sample and recovers (a fork resolving, in a
    /// long convergence series) was drawn with miter spikes far above 1 and far below its
    /// lowest value. It now stays within the rows its values span.
    #[test]
    fn thick_lines_stay_within_their_values() {
        let chart = |f: &dyn Fn(usize) -> f64| {
            let mut c = Chart::new("t", "t");
            c.x = (0.0, 2000.0);
            c.y = (0.0, 2.0);
            let pts = (0..2000).map(|i| (i as f64, f(i))).collect();
            c.series.push(Series::line(None, pts, color(0)).width(2));
            raster(&c).unwrap()
        };
        let (top, _) = rows_of(&chart(&|_| 1.0), color(0));
        let (_, bottom) = rows_of(&chart(&|_| 0.5), color(0));
        let dips = chart(&|i| if i % 50 == 25 { 0.5 } else { 1.0 });
        let (t, b) = rows_of(&dips, color(0));
        assert!(
            t >= top && b <= bottom,
            "rows {t}..={b}, values span {top}..={bottom}"
        );
        assert!(
            b + 3 >= bottom,
            "the dips are drawn (down to row {b} of {bottom})"
        );
    }

    #[test]
    fn tick_labels_are_compact() {
        assert_eq!(fmt_num(50.0), "50");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(0.1 + 0.2), "0.3");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1.5e-5), "1.5e-5");
    }
}
