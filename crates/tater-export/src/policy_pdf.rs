//! A published policy version as a PDF, rendered in-process: the Markdown text is parsed with
//! `pulldown-cmark`, laid out here (headings, paragraphs with bold, italic and code, lists,
//! quotes, code blocks, tables as rows, rules) on A4 pages, and written by `krilla` with the
//! DejaVu fonts embedded (subset), so it reads the same on every machine. Each page carries
//! the organization, the policy, its version and "page i of n"; the first page says who
//! approved the version, when, and the SHA-256 of its text.

use krilla::Document;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Stroke;
use krilla::text::{Font, TextDirection};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

const SERIF: &[u8] = include_bytes!("../fonts/DejaVuSerif.ttf");
const SERIF_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSerif-Bold.ttf");
const SERIF_ITALIC: &[u8] = include_bytes!("../fonts/DejaVuSerif-Italic.ttf");
const MONO: &[u8] = include_bytes!("../fonts/DejaVuSansMono.ttf");

/// A4, in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 64.0;
const TOP: f32 = 64.0;
/// Where the text stops; the footer sits below.
const BOTTOM: f32 = 76.0;
const BODY_SIZE: f32 = 10.5;
const CODE_SIZE: f32 = 9.0;
/// How far each list level or quote moves the text in.
const INDENT: f32 = 18.0;
/// Deeper lists and quotes than this are set at this depth (the text keeps its width).
const MAX_DEPTH: usize = 8;
/// Characters with no width that a font may not have: dropped before setting.
const ZERO_WIDTH: [char; 6] = [
    '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{AD}',
];

/// What the PDF of one version prints.
pub struct PolicyPdf<'a> {
    pub organization: &'a str,
    pub title: &'a str,
    pub version: u32,
    pub category: Option<&'a str>,
    pub owner: Option<&'a str>,
    pub effective_date: &'a str,
    pub approved_by: &'a str,
    pub approved_at: &'a str,
    pub sha256: &'a str,
    /// Markdown.
    pub body: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the embedded font {0} cannot be read")]
    Font(&'static str),
    #[error("the PDF cannot be written: {0}")]
    Write(String),
    /// Characters the embedded fonts have no glyphs for (CJK, Hebrew, Devanagari, emoji…):
    /// rather than print empty boxes under a hash that vouches for the text, no PDF.
    #[error("the PDF fonts have no glyphs for these characters: {0}")]
    Unsupported(String),
}

/// The version as PDF bytes.
pub fn policy_pdf(doc: &PolicyPdf<'_>) -> Result<Vec<u8>, PdfError> {
    let faces = Faces::load()?;
    let printed = [
        doc.organization,
        doc.title,
        doc.category.unwrap_or_default(),
        doc.owner.unwrap_or_default(),
        doc.approved_by,
        doc.body,
    ];
    let missing = faces
        .regular
        .missing(printed.iter().flat_map(|t| t.chars()));
    if !missing.is_empty() {
        return Err(PdfError::Unsupported(missing));
    }
    let mut layout = Layout::new(&faces);
    layout.heading_block(doc);
    layout.markdown(doc.body);
    let footer = format!(
        "{} · {} · version {}",
        doc.organization, doc.title, doc.version
    );
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{} (version {})", doc.title, doc.version))
            .authors(vec![doc.organization.to_owned()])
            .creator("Tater".to_owned()),
    );
    let total = layout.pages.len();
    for (i, marks) in layout.pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| PdfError::Write("page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        for mark in marks {
            match mark {
                Mark::Text(t) => {
                    let face = faces.get(t.style);
                    surface.draw_text(
                        Point::from_xy(t.x, t.y),
                        face.font.clone(),
                        t.size,
                        &t.text,
                        false,
                        TextDirection::Auto,
                    );
                    if t.struck {
                        let y = t.y - t.size * 0.3;
                        let end = t.x + face.width(&t.text, t.size);
                        line(&mut surface, t.x, end, y, t.size / 16.0);
                    }
                }
                Mark::Rule { y } => line(&mut surface, MARGIN_X, PAGE_W - MARGIN_X, *y, 0.6),
            }
        }
        let number = format!("Page {} of {total}", i + 1);
        let regular = faces.get(Style::Regular);
        let number_w = regular.width(&number, 8.0);
        let room = PAGE_W - 2.0 * MARGIN_X - number_w - 16.0;
        let y = PAGE_H - BOTTOM + 36.0;
        surface.draw_text(
            Point::from_xy(MARGIN_X, y),
            regular.font.clone(),
            8.0,
            &regular.fit(&footer, 8.0, room),
            false,
            TextDirection::Auto,
        );
        surface.draw_text(
            Point::from_xy(PAGE_W - MARGIN_X - number_w, y),
            regular.font.clone(),
            8.0,
            &number,
            false,
            TextDirection::Auto,
        );
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| PdfError::Write(format!("{e:?}")))
}

/// A horizontal line from `x0` to `x1` at `y`.
fn line(surface: &mut krilla::surface::Surface<'_>, x0: f32, x1: f32, y: f32, width: f32) {
    let mut path = PathBuilder::new();
    path.move_to(x0, y);
    path.line_to(x1, y);
    if let Some(path) = path.finish() {
        surface.set_stroke(Some(Stroke {
            width,
            ..Stroke::default()
        }));
        surface.draw_path(&path);
        surface.set_stroke(None);
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Regular,
    Bold,
    Italic,
    Mono,
}

/// A font to draw with and the metrics to measure it by.
struct Face {
    font: Font,
    charmap: Charmap<'static>,
    /// Advances at 1 pt.
    metrics: GlyphMetrics<'static>,
}

impl Face {
    fn load(bytes: &'static [u8], name: &'static str) -> Result<Self, PdfError> {
        let font = Font::new(bytes.into(), 0).ok_or(PdfError::Font(name))?;
        let parsed = FontRef::new(bytes).map_err(|_| PdfError::Font(name))?;
        Ok(Self {
            font,
            charmap: parsed.charmap(),
            metrics: parsed.glyph_metrics(Size::new(1.0), LocationRef::default()),
        })
    }

    /// Up to 10 distinct printable characters of `text` the face has no glyph for.
    fn missing(&self, text: impl Iterator<Item = char>) -> String {
        let mut out = String::new();
        for c in text {
            let printable = !c.is_whitespace() && !c.is_control() && !ZERO_WIDTH.contains(&c);
            if printable && self.charmap.map(c).is_none() && !out.contains(c) {
                out.push(c);
                if out.chars().count() == 10 {
                    break;
                }
            }
        }
        out
    }

    fn char_width(&self, c: char) -> f32 {
        self.charmap
            .map(c)
            .and_then(|g| self.metrics.advance_width(g))
            .unwrap_or(0.6)
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.char_width(c)).sum::<f32>() * size
    }

    /// `text`, cut short with an ellipsis so that it fits in `room`.
    fn fit(&self, text: &str, size: f32, room: f32) -> String {
        if self.width(text, size) <= room {
            return text.to_owned();
        }
        let mut out = String::new();
        let mut used = self.char_width('…') * size;
        for c in text.chars() {
            used += self.char_width(c) * size;
            if used > room {
                break;
            }
            out.push(c);
        }
        out.push('…');
        out
    }
}

struct Faces {
    regular: Face,
    bold: Face,
    italic: Face,
    mono: Face,
}

impl Faces {
    fn load() -> Result<Self, PdfError> {
        Ok(Self {
            regular: Face::load(SERIF, "DejaVu Serif")?,
            bold: Face::load(SERIF_BOLD, "DejaVu Serif Bold")?,
            italic: Face::load(SERIF_ITALIC, "DejaVu Serif Italic")?,
            mono: Face::load(MONO, "DejaVu Sans Mono")?,
        })
    }

    fn get(&self, style: Style) -> &Face {
        match style {
            Style::Regular => &self.regular,
            Style::Bold => &self.bold,
            Style::Italic => &self.italic,
            Style::Mono => &self.mono,
        }
    }
}

/// Text placed on a page at its baseline.
struct Placed {
    x: f32,
    y: f32,
    style: Style,
    size: f32,
    text: String,
    /// Struck through (`~~text~~`): drawn with a line through it, so deleted words never
    /// read as the rule.
    struck: bool,
}

enum Mark {
    Text(Placed),
    Rule { y: f32 },
}

/// A word to set, with whether a space comes before it; `None` text is a line break.
struct Token {
    style: Style,
    struck: bool,
    text: Option<String>,
    space_before: bool,
}

/// Where inline Markdown puts its text: emphasis, strong, code and links open and close.
#[derive(Default)]
struct Inline {
    tokens: Vec<Token>,
    strong: u32,
    emphasis: u32,
    strike: u32,
    /// The link being read: its address and where its text started.
    link: Option<(String, usize)>,
    pending_space: bool,
}

impl Inline {
    fn style(&self, heading: bool) -> Style {
        if self.strong > 0 || heading {
            Style::Bold
        } else if self.emphasis > 0 {
            Style::Italic
        } else {
            Style::Regular
        }
    }

    fn push(&mut self, text: &str, style: Style) {
        let mut space = self.pending_space || text.starts_with(char::is_whitespace);
        let mut any = false;
        for word in text.split_whitespace() {
            self.tokens.push(Token {
                style,
                struck: self.strike > 0,
                text: Some(word.to_owned()),
                space_before: space,
            });
            space = true;
            any = true;
        }
        self.pending_space = if any {
            text.ends_with(char::is_whitespace)
        } else {
            space
        };
    }

    fn soft_break(&mut self) {
        self.pending_space = true;
    }

    fn hard_break(&mut self) {
        self.tokens.push(Token {
            style: Style::Regular,
            struck: false,
            text: None,
            space_before: false,
        });
        self.pending_space = false;
    }

    fn take(&mut self) -> Vec<Token> {
        self.pending_space = false;
        std::mem::take(&mut self.tokens)
    }
}

/// A line being filled: runs of one style (struck or not) with their offsets from the
/// line's start.
type Line = Vec<(Style, bool, String, f32)>;

/// Pages of marks, filled top to bottom.
struct Layout<'f> {
    faces: &'f Faces,
    pages: Vec<Vec<Mark>>,
    /// The top of the next line on the current page.
    y: f32,
}

/// One list being set: its next number (`None`: bullets).
struct List {
    next: Option<u64>,
}

impl<'f> Layout<'f> {
    fn new(faces: &'f Faces) -> Self {
        Self {
            faces,
            pages: vec![Vec::new()],
            y: TOP,
        }
    }

    fn page(&mut self) -> &mut Vec<Mark> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// Starts a new page unless `height` more fits on this one.
    fn room_for(&mut self, height: f32) {
        if self.y + height > PAGE_H - BOTTOM && self.y > TOP {
            self.new_page();
        }
    }

    fn space(&mut self, points: f32) {
        if self.y > TOP {
            self.y += points;
        }
    }

    fn rule(&mut self) {
        self.room_for(12.0);
        let y = self.y + 4.0;
        self.page().push(Mark::Rule { y });
        self.y += 10.0;
    }

    fn place(&mut self, x: f32, style: Style, size: f32, text: String, struck: bool) {
        let y = self.y + size;
        self.page().push(Mark::Text(Placed {
            x,
            y,
            style,
            size,
            text,
            struck,
        }));
    }

    /// Sets `tokens` as a paragraph from `indent`, wrapping at the right margin; `marker`
    /// (a bullet or number) hangs to the left of its first line.
    fn paragraph(&mut self, tokens: &[Token], indent: f32, size: f32, marker: Option<&str>) {
        let faces = self.faces;
        let leading = size * 1.4;
        let width = PAGE_W - 2.0 * MARGIN_X - indent;
        let x0 = MARGIN_X + indent;
        let mut line: Line = Vec::new();
        let mut used = 0.0;
        let mut marker = marker;
        let flush = |layout: &mut Self, line: &mut Line, marker: &mut Option<&str>| {
            layout.room_for(leading);
            if let Some(m) = marker.take() {
                let mw = layout.faces.regular.width(m, size);
                layout.place(x0 - mw - 6.0, Style::Regular, size, m.to_owned(), false);
            }
            for (style, struck, text, x) in line.drain(..) {
                layout.place(x0 + x, style, size, text, struck);
            }
            layout.y += leading;
        };
        for token in tokens {
            let Some(text) = &token.text else {
                flush(self, &mut line, &mut marker);
                used = 0.0;
                continue;
            };
            let face = faces.get(token.style);
            let gap = if token.space_before && !line.is_empty() {
                face.width(" ", size)
            } else {
                0.0
            };
            let w = face.width(text, size);
            if used + gap + w > width && !line.is_empty() {
                flush(self, &mut line, &mut marker);
                used = 0.0;
            }
            for piece in split_to_fit(face, text, size, width) {
                let pw = face.width(&piece, size);
                if used + pw > width && !line.is_empty() {
                    flush(self, &mut line, &mut marker);
                    used = 0.0;
                }
                let gap = if token.space_before && !line.is_empty() {
                    face.width(" ", size)
                } else {
                    0.0
                };
                match line.last_mut() {
                    // Runs of one style are drawn as one piece of text.
                    Some((style, struck, run, _))
                        if *style == token.style && *struck == token.struck =>
                    {
                        if gap > 0.0 {
                            run.push(' ');
                        }
                        run.push_str(&piece);
                    }
                    _ => line.push((token.style, token.struck, piece.clone(), used + gap)),
                }
                used += gap + pw;
            }
        }
        if !line.is_empty() || marker.is_some() {
            flush(self, &mut line, &mut marker);
        }
    }

    /// The first page's head: organization, title, and what vouches for this version.
    fn heading_block(&mut self, doc: &PolicyPdf<'_>) {
        let words = |text: &str, style: Style| {
            let mut inline = Inline::default();
            inline.push(text, style);
            inline.take()
        };
        self.paragraph(&words(doc.organization, Style::Regular), 0.0, 9.0, None);
        self.space(4.0);
        self.paragraph(&words(doc.title, Style::Bold), 0.0, 20.0, None);
        self.space(6.0);
        let version = doc.version.to_string();
        let mut rows = vec![("Version", version.as_str(), Style::Regular)];
        if let Some(category) = doc.category {
            rows.push(("Category", category, Style::Regular));
        }
        if let Some(owner) = doc.owner {
            rows.push(("Owner", owner, Style::Regular));
        }
        rows.push(("Effective date", doc.effective_date, Style::Regular));
        rows.push(("Approved by", doc.approved_by, Style::Regular));
        rows.push(("Approved at", doc.approved_at, Style::Regular));
        rows.push(("SHA-256 of the text", doc.sha256, Style::Mono));
        for (label, value, style) in rows {
            let top = self.y;
            self.paragraph(&words(label, Style::Bold), 0.0, 9.0, None);
            self.y = top;
            let size = if style == Style::Mono { 8.0 } else { 9.0 };
            self.paragraph(&words(value, style), 120.0, size, None);
        }
        self.space(4.0);
        self.rule();
        self.space(6.0);
    }

    /// Sets the Markdown text.
    fn markdown(&mut self, body: &str) {
        let options = Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_FOOTNOTES;
        let mut inline = Inline::default();
        let mut lists: Vec<List> = Vec::new();
        let mut quotes = 0u32;
        let mut heading: Option<f32> = None;
        let mut code: Option<String> = None;
        let mut marker: Option<String> = None;
        let indent = |lists: &Vec<List>, quotes: u32| {
            let depth = (lists.len() + quotes as usize).min(MAX_DEPTH);
            INDENT * depth as f32
        };
        let body: String = body.chars().filter(|c| !ZERO_WIDTH.contains(c)).collect();
        for event in Parser::new_ext(&body, options) {
            if let Some(buf) = code.as_mut() {
                match event {
                    Event::Text(t) => buf.push_str(&t),
                    Event::End(TagEnd::CodeBlock) => {
                        let text = code.take().unwrap_or_default();
                        self.code_block(&text, indent(&lists, quotes));
                    }
                    _ => {}
                }
                continue;
            }
            let style = if quotes > 0 && inline.strong == 0 {
                Style::Italic
            } else {
                inline.style(heading.is_some())
            };
            match event {
                Event::Start(Tag::Heading { level, .. }) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    heading = Some(match level as u8 {
                        1 => 16.0,
                        2 => 14.0,
                        3 => 12.5,
                        _ => 11.0,
                    });
                }
                Event::End(TagEnd::Heading(_)) => {
                    let size = heading.take();
                    self.space(6.0);
                    if let Some(size) = size {
                        // A heading is not left alone at the foot of a page.
                        self.room_for(size * 1.4 + BODY_SIZE * 3.0);
                    }
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, size);
                    self.space(2.0);
                }
                Event::Start(Tag::Paragraph) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                }
                Event::End(TagEnd::Paragraph) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    self.space(5.0);
                }
                Event::Start(Tag::List(start)) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    lists.push(List { next: start });
                }
                Event::End(TagEnd::List(_)) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    lists.pop();
                    if lists.is_empty() {
                        self.space(5.0);
                    }
                }
                Event::Start(Tag::Item) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    if let Some(list) = lists.last_mut() {
                        marker = Some(match list.next.as_mut() {
                            Some(n) => {
                                let m = format!("{n}.");
                                *n += 1;
                                m
                            }
                            None => "•".to_owned(),
                        });
                    }
                }
                Event::End(TagEnd::Item) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    // An item that was only a block (code, a table) leaves no marker for
                    // whatever comes next.
                    marker = None;
                }
                Event::Start(Tag::BlockQuote(_)) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    quotes += 1;
                }
                Event::End(TagEnd::BlockQuote(_)) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    quotes = quotes.saturating_sub(1);
                }
                Event::Start(Tag::CodeBlock(_)) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    code = Some(String::new());
                }
                Event::Start(Tag::Strong) => inline.strong += 1,
                Event::End(TagEnd::Strong) => inline.strong = inline.strong.saturating_sub(1),
                Event::Start(Tag::Strikethrough) => inline.strike += 1,
                Event::End(TagEnd::Strikethrough) => {
                    inline.strike = inline.strike.saturating_sub(1);
                }
                Event::Start(Tag::Emphasis) => inline.emphasis += 1,
                Event::End(TagEnd::Emphasis) => {
                    inline.emphasis = inline.emphasis.saturating_sub(1);
                }
                Event::Start(Tag::Link { dest_url, .. }) => {
                    inline.link = Some((dest_url.to_string(), inline.tokens.len()));
                }
                Event::End(TagEnd::Link) => {
                    if let Some((url, from)) = inline.link.take() {
                        let said: Vec<&str> = inline.tokens[from.min(inline.tokens.len())..]
                            .iter()
                            .filter_map(|t| t.text.as_deref())
                            .collect();
                        // The address is printed unless the text already is the address.
                        if !url.is_empty() && said.join(" ") != url {
                            inline.push(&format!(" ({url})"), Style::Regular);
                        }
                    }
                }
                Event::Start(Tag::Image { dest_url, .. }) => {
                    inline.push(&format!(" [image: {dest_url}] "), Style::Italic);
                }
                Event::Start(Tag::TableHead) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    // A table's head row is bold.
                    inline.strong += 1;
                }
                Event::Start(Tag::TableRow) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                }
                Event::Start(Tag::TableCell) if !inline.tokens.is_empty() => {
                    inline.push(" | ", Style::Regular);
                }
                Event::End(TagEnd::TableHead) => {
                    inline.strong = inline.strong.saturating_sub(1);
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                }
                Event::End(TagEnd::TableRow | TagEnd::Table) => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    self.space(2.0);
                }
                Event::Text(t) => inline.push(&t, style),
                Event::Code(t) => inline.push(&t, Style::Mono),
                Event::Html(t) | Event::InlineHtml(t) => inline.push(&t, Style::Mono),
                Event::InlineMath(t) | Event::DisplayMath(t) => inline.push(&t, Style::Mono),
                Event::FootnoteReference(name) => inline.push(&format!("[{name}]"), style),
                Event::TaskListMarker(done) => {
                    inline.push(if done { "[x] " } else { "[ ] " }, Style::Mono);
                }
                Event::SoftBreak => inline.soft_break(),
                Event::HardBreak => inline.hard_break(),
                Event::Rule => {
                    self.flush(&mut inline, indent(&lists, quotes), &mut marker, None);
                    self.rule();
                }
                _ => {}
            }
        }
        self.flush(&mut inline, 0.0, &mut marker, None);
    }

    /// Sets what inline text has gathered (if any) as a paragraph: body text, or a heading
    /// of `size`.
    fn flush(
        &mut self,
        inline: &mut Inline,
        indent: f32,
        marker: &mut Option<String>,
        size: Option<f32>,
    ) {
        let tokens = inline.take();
        if tokens.is_empty() && marker.is_none() {
            return;
        }
        if tokens.is_empty() {
            // An item whose text is a nested list or a block: its marker waits for it.
            return;
        }
        let m = marker.take();
        self.paragraph(&tokens, indent, size.unwrap_or(BODY_SIZE), m.as_deref());
    }

    /// A code block, line for line in the fixed-width face (long lines wrap).
    fn code_block(&mut self, text: &str, indent: f32) {
        let faces = self.faces;
        let face = faces.get(Style::Mono);
        let width = PAGE_W - 2.0 * MARGIN_X - indent - 8.0;
        let leading = CODE_SIZE * 1.35;
        for line in text.trim_end_matches('\n').split('\n') {
            let line = line.replace('\t', "    ");
            for piece in split_to_fit(face, &line, CODE_SIZE, width) {
                self.room_for(leading);
                self.place(
                    MARGIN_X + indent + 8.0,
                    Style::Mono,
                    CODE_SIZE,
                    piece,
                    false,
                );
                self.y += leading;
            }
        }
        self.space(6.0);
    }
}

/// `text` in pieces no wider than `width` (a long word, an address, a hash), cut between
/// characters; one piece when it fits.
fn split_to_fit(face: &Face, text: &str, size: f32, width: f32) -> Vec<String> {
    if face.width(text, size) <= width {
        return vec![text.to_owned()];
    }
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut used = 0.0;
    for c in text.chars() {
        let w = face.char_width(c) * size;
        if used + w > width && !piece.is_empty() {
            pieces.push(std::mem::take(&mut piece));
            used = 0.0;
        }
        piece.push(c);
        used += w;
    }
    if !piece.is_empty() || pieces.is_empty() {
        pieces.push(piece);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(body: &str) -> PolicyPdf<'_> {
        PolicyPdf {
            organization: "Acme Defense",
            title: "Access Control Policy",
            version: 3,
            category: Some("Access Control"),
            owner: Some("ciso@acme.test"),
            effective_date: "2026-12-01",
            approved_by: "isso@acme.test",
            approved_at: "2026-11-30T10:00:00.000Z",
            sha256: "ab".repeat(32).leak(),
            body,
        }
    }

    #[test]
    fn a_long_policy_runs_over_pages_and_every_page_has_its_footer() {
        let body = "## Purpose\n\nThis policy **governs** access. ".to_owned()
            + &"Accounts are reviewed every quarter by their owners and removed when no longer needed. "
                .repeat(400)
            + "\n\n- one\n- two\n  1. nested\n\n```\ncode line\n```\n\n> quoted\n\n---\n\n| a | b |\n|---|---|\n| 1 | 2 |\n";
        let faces = Faces::load().unwrap();
        let mut layout = Layout::new(&faces);
        layout.heading_block(&doc(&body));
        layout.markdown(&body);
        assert!(layout.pages.len() >= 3, "{} pages", layout.pages.len());
        for page in &layout.pages {
            for mark in page {
                if let Mark::Text(t) = mark {
                    let right = t.x + faces.get(t.style).width(&t.text, t.size);
                    assert!(right <= PAGE_W - MARGIN_X + 0.5, "{} overflows", t.text);
                    assert!(
                        t.y <= PAGE_H - BOTTOM + t.size,
                        "{} below the margin",
                        t.text
                    );
                }
            }
        }
        let bytes = policy_pdf(&doc(&body)).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        // To look at it: TATER_WRITE_PDF=/tmp/policy.pdf cargo test -p tater-export policy
        if let Ok(path) = std::env::var("TATER_WRITE_PDF") {
            std::fs::write(path, &bytes).unwrap();
        }
    }

    fn laid_out(body: &str) -> Vec<Vec<Mark>> {
        let faces = Faces::load().unwrap();
        let mut layout = Layout::new(&faces);
        layout.markdown(body);
        layout.pages
    }

    fn texts(pages: &[Vec<Mark>]) -> Vec<&Placed> {
        pages
            .iter()
            .flatten()
            .filter_map(|m| match m {
                Mark::Text(t) => Some(t),
                Mark::Rule { .. } => None,
            })
            .collect()
    }

    #[test]
    fn struck_words_are_drawn_struck_and_the_rest_not() {
        let pages = laid_out("Staff ~~may share~~ must never share passwords.");
        let placed = texts(&pages);
        let struck: Vec<&str> = placed
            .iter()
            .filter(|t| t.struck)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(struck, ["may share"]);
        assert!(
            placed
                .iter()
                .any(|t| !t.struck && t.text.contains("must never"))
        );
    }

    #[test]
    fn deep_nesting_keeps_the_text_on_the_page() {
        let body = format!("{} {}", ">".repeat(40), "word ".repeat(2000));
        let pages = laid_out(&body);
        let faces = Faces::load().unwrap();
        assert!(pages.len() < 10, "{} pages", pages.len());
        for t in texts(&pages) {
            let right = t.x + faces.get(t.style).width(&t.text, t.size);
            assert!(right <= PAGE_W - MARGIN_X + 0.5, "{} at {}", t.text, t.x);
        }
    }

    #[test]
    fn a_marker_stays_with_its_item() {
        let pages = laid_out("1. ```\n   code\n   ```\n\nAfter the list.");
        let placed = texts(&pages);
        assert!(
            placed.iter().all(|t| t.text != "1."),
            "an unused marker is dropped"
        );
    }

    #[test]
    fn characters_the_fonts_lack_are_refused_not_boxed() {
        let body = "Policy: 情報セキュリティ and \u{200B}zero width.";
        match policy_pdf(&doc(body)) {
            Err(PdfError::Unsupported(chars)) => assert!(chars.starts_with("情報"), "{chars}"),
            other => panic!("{:?}", other.map(|b| b.len())),
        }
        assert!(
            policy_pdf(&doc(
                "Zugriffsrechte – naïve café, Ελληνικά, русский \u{200B}"
            ))
            .is_ok()
        );
    }

    #[test]
    fn an_unbroken_string_wraps_inside_the_margins() {
        let faces = Faces::load().unwrap();
        let pieces = split_to_fit(&faces.regular, &"x".repeat(2000), BODY_SIZE, 200.0);
        assert!(pieces.len() > 5);
        assert!(
            pieces
                .iter()
                .all(|p| faces.regular.width(p, BODY_SIZE) <= 200.0)
        );
    }
}
