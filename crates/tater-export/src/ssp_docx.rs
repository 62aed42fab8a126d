//! The System Security Plan as a Word document (issue: federal artifacts, item 5): a title
//! page, a table of contents, the system information and its FIPS 199 categorization, the
//! environment and inventory, then one section per control family with a table per control.
//!
//! Headings use Word's built-in heading styles (`heading 1`–`3`), so the navigation pane of
//! Word and LibreOffice lists every family and control. The table of contents is a real `TOC`
//! field whose entries are written in advance (each a link to its heading's bookmark, with a
//! `PAGEREF` for the page), and it is marked dirty so Word fills in the page numbers on open.
//! Nothing depends on a global counter: the same data gives the same document text.
//! The same [`SspInput`] feeds the OSCAL export, so both always say the same thing.

use docx_rs::{
    AlignmentType, BreakType, Docx, FieldCharType, Footer, Header, Hyperlink, HyperlinkType,
    InstrPAGEREF, InstrText, InstrToC, PageMargin, PageNum, Paragraph, Run, Shading, Style,
    StyleType, Tab, TabLeaderType, TabValueType, Table, TableCell, TableRow, WidthType,
};
use serde_json::{Map, Value};

use crate::oscal_ssp::{
    PEOPLE, SspInput, high_water, implementation_narrative, implementation_status, objects, text,
};

/// What the catalog says about one baseline control, in the order of [`SspInput::controls`].
#[derive(Debug, Clone)]
pub struct ControlHeading {
    /// The control's label as people write it, e.g. `AC-2(1)`.
    pub label: String,
    pub title: String,
    /// The family's id and title, e.g. `ac` and `Access Control`.
    pub family: String,
    pub family_title: String,
}

/// Everything the Word SSP shows.
pub struct SspDocument<'a> {
    pub ssp: &'a SspInput,
    pub headings: &'a [ControlHeading],
    /// The baseline's human title, e.g. `NIST SP 800-53 Rev 5 Moderate`.
    pub baseline_title: String,
    /// `YYYY-MM-DD`.
    pub date: String,
}

/// Letter page, one-inch margins (twips).
const PAGE_WIDTH: u32 = 12_240;
const PAGE_HEIGHT: u32 = 15_840;
const MARGIN: i32 = 1_440;
/// Table columns (twips): a label column and the rest of the text width.
const LABEL_WIDTH: usize = 2_600;
/// The text width (page less margins), where the table of contents' page numbers align.
const TEXT_WIDTH: usize = 9_360;
const VALUE_WIDTH: usize = 6_760;
const LABEL_FILL: &str = "D9E1F2";

/// Builds the `.docx` bytes.
pub fn ssp_docx(doc: &SspDocument<'_>) -> std::io::Result<Vec<u8>> {
    let input = doc.ssp;
    let p = &input.profile;
    let name = text(p, "name").unwrap_or_else(|| format!("{} system", input.org_name));
    let marking = text(p, "classification").unwrap_or_default();
    let mut body = Body::default();
    system_information(&mut body, input, &name, &doc.baseline_title);
    categorization(&mut body, p);
    environment(&mut body, input);
    controls(&mut body, doc);

    let mut docx = with_styles(Docx::new())
        .page_size(PAGE_WIDTH, PAGE_HEIGHT)
        .page_margin(
            PageMargin::new()
                .top(MARGIN)
                .bottom(MARGIN)
                .left(MARGIN)
                .right(MARGIN),
        )
        .header(Header::new().add_paragraph(centered(&marking)))
        .footer(
            Footer::new().add_paragraph(
                centered(&marking)
                    .add_run(run("    Page "))
                    .add_page_num(PageNum::new()),
            ),
        );
    docx = title_page(docx, doc, &name);
    docx = docx.add_paragraph(
        Paragraph::new()
            .style("TOCHeading")
            .add_run(run("Table of Contents")),
    );
    for para in body.table_of_contents() {
        docx = docx.add_paragraph(para);
    }
    docx = docx.add_paragraph(page_break());
    for block in body.blocks {
        docx = match block {
            Block::Paragraph(p) => docx.add_paragraph(*p),
            Block::Table(t) => docx.add_table(*t),
        };
    }
    let mut out = std::io::Cursor::new(Vec::new());
    let mut parts = docx.build();
    parts.styles = with_default_paragraph_style(&parts.styles)?;
    parts
        .pack(&mut out)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(out.into_inner())
}

enum Block {
    Paragraph(Box<Paragraph>),
    Table(Box<Table>),
}

/// The document after the title page, built first so the table of contents can list it.
#[derive(Default)]
struct Body {
    blocks: Vec<Block>,
    /// Headings the table of contents lists: level, text, bookmark.
    toc: Vec<(usize, String, String)>,
}

/// Headings down to this level are listed in the table of contents (controls are level 3:
/// 287 of them would make it longer than useful; the navigation pane shows them).
const TOC_DEPTH: usize = 2;

impl Body {
    fn heading(&mut self, level: usize, t: &str) {
        let mut p = Paragraph::new()
            .style(&format!("Heading{level}"))
            .keep_next(true);
        if level <= TOC_DEPTH {
            let id = self.toc.len() + 1;
            let bookmark = format!("_Toc{id:08}");
            p = p
                .add_bookmark_start(id, &bookmark)
                .add_run(run(t))
                .add_bookmark_end(id);
            self.toc.push((level, t.to_owned(), bookmark));
        } else {
            p = p.add_run(run(t));
        }
        self.blocks.push(Block::Paragraph(Box::new(p)));
    }

    fn paragraph(&mut self, p: Paragraph) {
        self.blocks.push(Block::Paragraph(Box::new(p)));
    }

    fn line(&mut self, t: &str) {
        self.paragraph(Paragraph::new().add_run(run(t)));
    }

    /// Free text: one paragraph per line, so line breaks the author typed survive.
    fn text(&mut self, t: &str) {
        for line in t.lines() {
            self.line(line);
        }
    }

    fn table(&mut self, t: Table) {
        self.blocks.push(Block::Table(Box::new(t)));
    }

    /// The `TOC` field: begun in the first entry's paragraph, ended after the last.
    fn table_of_contents(&self) -> Vec<Paragraph> {
        let field = |kind| Run::new().add_field_char(kind, false);
        let mut out = Vec::with_capacity(self.toc.len() + 1);
        for (i, (level, t, bookmark)) in self.toc.iter().enumerate() {
            let mut p = Paragraph::new().style(&format!("TOC{level}")).add_tab(
                Tab::new()
                    .val(TabValueType::Right)
                    .leader(TabLeaderType::Dot)
                    .pos(TEXT_WIDTH),
            );
            if i == 0 {
                p = p
                    .add_run(Run::new().add_field_char(FieldCharType::Begin, true))
                    .add_run(
                        Run::new().add_instr_text(InstrText::TOC(
                            InstrToC::new()
                                .heading_styles_range(1, TOC_DEPTH)
                                .hyperlink(),
                        )),
                    )
                    .add_run(field(FieldCharType::Separate));
            }
            // The entry links to its heading; the page number is a PAGEREF field beside it.
            let entry = Hyperlink::new(bookmark, HyperlinkType::Anchor).add_run(run(t));
            out.push(
                p.add_hyperlink(entry)
                    .add_run(Run::new().add_tab())
                    .add_run(field(FieldCharType::Begin))
                    .add_run(Run::new().add_instr_text(InstrText::PAGEREF(
                        InstrPAGEREF::new(bookmark).hyperlink(),
                    )))
                    // No cached page number: only a layout engine knows it. Word fills it in
                    // on open (the field is dirty); LibreOffice on Tools > Update > Update All.
                    .add_run(field(FieldCharType::Separate))
                    .add_run(field(FieldCharType::End)),
            );
        }
        out.push(Paragraph::new().add_run(field(FieldCharType::End)));
        out
    }
}

fn with_styles(docx: Docx) -> Docx {
    let heading = |level: usize, size: usize| {
        Style::new(format!("Heading{level}"), StyleType::Paragraph)
            .name(format!("heading {level}"))
            .based_on("Normal")
            .next("Normal")
            .q_format(true)
            .outline_lvl(level - 1)
            .size(size)
            .bold()
            .color("1F3864")
    };
    // docx-rs writes the `Normal` style itself; a second definition would repeat its id.
    docx.default_size(21)
        .add_style(
            Style::new("Title", StyleType::Paragraph)
                .name("Title")
                .based_on("Normal")
                .q_format(true)
                .size(56)
                .bold()
                .color("1F3864"),
        )
        .add_style(
            Style::new("Subtitle", StyleType::Paragraph)
                .name("Subtitle")
                .based_on("Normal")
                .q_format(true)
                .size(32)
                .color("404040"),
        )
        .add_style(heading(1, 32))
        .add_style(heading(2, 28))
        .add_style(heading(3, 24))
        .add_style(
            Style::new("TOCHeading", StyleType::Paragraph)
                .name("TOC Heading")
                .based_on("Normal")
                .size(32)
                .bold()
                .color("1F3864"),
        )
        .add_style(toc(1))
        .add_style(toc(2))
}

/// The element docx-rs writes for the one `Normal` style.
const NORMAL_STYLE: &str = r#"<w:style w:type="paragraph" w:styleId="Normal">"#;

/// Marks `Normal` as the default paragraph style (`w:default="1"`), which docx-rs cannot
/// express: without it, readers such as python-docx find no style for unstyled paragraphs.
fn with_default_paragraph_style(styles: &[u8]) -> std::io::Result<Vec<u8>> {
    let xml = std::str::from_utf8(styles).map_err(std::io::Error::other)?;
    if xml.matches(NORMAL_STYLE).count() != 1 {
        return Err(std::io::Error::other(
            "styles.xml must define the Normal paragraph style exactly once",
        ));
    }
    Ok(xml
        .replacen(
            NORMAL_STYLE,
            r#"<w:style w:type="paragraph" w:default="1" w:styleId="Normal">"#,
            1,
        )
        .into_bytes())
}

fn toc(level: usize) -> Style {
    let indent = i32::try_from((level - 1) * 240).unwrap_or(0);
    Style::new(format!("TOC{level}"), StyleType::Paragraph)
        .name(format!("toc {level}"))
        .based_on("Normal")
        .next("Normal")
        .indent(Some(indent), None, None, None)
}

fn run(t: &str) -> Run {
    Run::new().add_text(t)
}

fn centered(t: &str) -> Paragraph {
    Paragraph::new()
        .align(AlignmentType::Center)
        .add_run(run(t))
}

fn page_break() -> Paragraph {
    Paragraph::new().add_run(Run::new().add_break(BreakType::Page))
}

/// A cell holding `t`, one paragraph per line.
fn cell(t: &str, width: usize) -> TableCell {
    let mut c = TableCell::new().width(width, WidthType::Dxa);
    let mut any = false;
    for line in t.lines() {
        c = c.add_paragraph(Paragraph::new().add_run(run(line)));
        any = true;
    }
    if !any {
        c = c.add_paragraph(Paragraph::new());
    }
    c
}

fn label_cell(t: &str, width: usize) -> TableCell {
    TableCell::new()
        .width(width, WidthType::Dxa)
        .shading(Shading::new().fill(LABEL_FILL))
        .add_paragraph(Paragraph::new().add_run(run(t).bold()))
}

/// A two-column table of (label, value) rows.
fn fields_table(rows: &[(&str, String)]) -> Table {
    Table::new(
        rows.iter()
            .map(|(label, value)| {
                TableRow::new(vec![
                    label_cell(label, LABEL_WIDTH),
                    cell(value, VALUE_WIDTH),
                ])
                .cant_split()
            })
            .collect(),
    )
    .set_grid(vec![LABEL_WIDTH, VALUE_WIDTH])
}

/// A table with a shaded header row.
fn grid_table(headers: &[&str], rows: Vec<Vec<String>>, widths: &[usize]) -> Table {
    let head = TableRow::new(
        headers
            .iter()
            .zip(widths)
            .map(|(h, w)| label_cell(h, *w))
            .collect(),
    );
    let mut all = vec![head];
    all.extend(rows.into_iter().map(|r| {
        TableRow::new(r.iter().zip(widths).map(|(v, w)| cell(v, *w)).collect()).cant_split()
    }));
    Table::new(all).set_grid(widths.to_vec())
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "—".into())
}

fn title_page(docx: Docx, doc: &SspDocument<'_>, name: &str) -> Docx {
    let p = &doc.ssp.profile;
    let system = match text(p, "abbreviation") {
        Some(a) => format!("{name} ({a})"),
        None => name.to_owned(),
    };
    let mut d = docx
        .add_paragraph(Paragraph::new())
        .add_paragraph(Paragraph::new())
        .add_paragraph(
            Paragraph::new()
                .style("Title")
                .add_run(run("System Security Plan")),
        )
        .add_paragraph(Paragraph::new().style("Subtitle").add_run(run(&system)))
        .add_paragraph(Paragraph::new())
        .add_paragraph(Paragraph::new().add_run(run(&doc.ssp.org_name).bold()))
        .add_paragraph(Paragraph::new().add_run(run(&format!("Baseline: {}", doc.baseline_title))))
        .add_paragraph(Paragraph::new().add_run(run(&format!("Date: {}", doc.date))))
        .add_paragraph(
            Paragraph::new().add_run(run(&format!("System profile version: {}", doc.ssp.version))),
        );
    if let Some(marking) = text(p, "classification") {
        d = d
            .add_paragraph(Paragraph::new())
            .add_paragraph(centered(&marking));
    }
    d.add_paragraph(page_break())
}

fn person(p: &Map<String, Value>, name_field: &str, email_field: &str) -> String {
    match (text(p, name_field), text(p, email_field)) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (Some(n), None) => n,
        (None, Some(e)) => e,
        (None, None) => "—".into(),
    }
}

fn system_information(body: &mut Body, input: &SspInput, name: &str, baseline: &str) {
    let p = &input.profile;
    let mut rows: Vec<(&str, String)> = vec![
        ("System name", name.to_owned()),
        ("Abbreviation", or_dash(text(p, "abbreviation"))),
        ("Organization", input.org_name.clone()),
        (
            "Status",
            text(p, "status").unwrap_or_else(|| "operational".into()),
        ),
        ("Selected baseline", baseline.to_owned()),
    ];
    for (_, title, name_field, email_field) in PEOPLE {
        rows.push((title, person(p, name_field, email_field)));
    }
    rows.push((
        "Description",
        text(p, "description").unwrap_or_else(|| "No description has been written yet.".into()),
    ));
    body.heading(1, "1 System Information");
    body.table(fields_table(&rows));
}

fn categorization(body: &mut Body, p: &Map<String, Value>) {
    let levels = ["confidentiality", "integrity", "availability"]
        .map(|k| text(p, k).unwrap_or_else(|| "moderate".into()));
    let cap = |s: &str| {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    };
    let overall = cap(&high_water(&levels));
    let rows = vec![
        vec!["Confidentiality".into(), cap(&levels[0])],
        vec!["Integrity".into(), cap(&levels[1])],
        vec!["Availability".into(), cap(&levels[2])],
        vec!["Overall (high-water mark)".into(), overall],
    ];
    body.heading(1, "2 Security Categorization (FIPS 199)");
    body.table(grid_table(
        &["Security objective", "Impact level"],
        rows,
        &[LABEL_WIDTH * 2, VALUE_WIDTH - LABEL_WIDTH],
    ));
    body.heading(2, "2.1 Information Types");
    let types: Vec<Vec<String>> = objects(p, "informationTypes")
        .map(|t| {
            let level = |k: &str| text(t, k).map_or_else(|| cap(&levels_of(p, k)), |l| cap(&l));
            vec![
                text(t, "title").unwrap_or_default(),
                text(t, "description").unwrap_or_default(),
                level("confidentiality"),
                level("integrity"),
                level("availability"),
            ]
        })
        .collect();
    if types.is_empty() {
        body.line("No information types are recorded yet.");
    } else {
        body.table(grid_table(
            &["Information type", "Description", "C", "I", "A"],
            types,
            &[2_000, 3_560, 1_266, 1_267, 1_267],
        ));
    }
}

fn levels_of(p: &Map<String, Value>, k: &str) -> String {
    text(p, k).unwrap_or_else(|| "moderate".into())
}

fn environment(body: &mut Body, input: &SspInput) {
    let p = &input.profile;
    body.heading(1, "3 System Environment");
    for (n, (field, title)) in [
        ("authorizationBoundary", "Authorization Boundary"),
        ("networkArchitecture", "Network Architecture"),
        ("dataFlow", "Data Flow"),
    ]
    .iter()
    .enumerate()
    {
        body.heading(2, &format!("3.{} {title}", n + 1));
        body.text(&text(p, field).unwrap_or_else(|| "Not described yet.".into()));
    }
    body.heading(2, "3.4 Inventory");
    if input.endpoints.is_empty() {
        body.line("No endpoints are enrolled.");
        return;
    }
    body.line(&format!(
        "{} endpoints are enrolled and monitored by the Tater agent.",
        input.endpoints.len()
    ));
    let rows = input
        .endpoints
        .iter()
        .map(|[_, host, os, version]| vec![host.clone(), os.clone(), version.clone()])
        .collect();
    body.table(grid_table(
        &["Hostname", "Operating system", "Version"],
        rows,
        &[3_800, 3_560, 2_000],
    ));
}

fn controls(body: &mut Body, doc: &SspDocument<'_>) {
    body.paragraph(page_break());
    body.heading(1, "4 Control Implementation");
    body.line(&format!(
        "The {} controls of the {} baseline, each with its implementation status, responsible roles, parameter values and narrative.",
        doc.ssp.controls.len(),
        doc.baseline_title
    ));
    let mut family = String::new();
    let mut section = 0;
    for ((_, overlay), h) in doc.ssp.controls.iter().zip(doc.headings) {
        if h.family != family {
            family.clone_from(&h.family);
            section += 1;
            body.heading(
                2,
                &format!(
                    "4.{section} {} — {}",
                    h.family.to_uppercase(),
                    h.family_title
                ),
            );
        }
        body.heading(3, &format!("{} {}", h.label, h.title));
        body.table(control_table(overlay));
        body.paragraph(Paragraph::new());
    }
}

fn control_table(o: &Map<String, Value>) -> Table {
    let roles: Vec<&str> = o
        .get("responsibleRoles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut params: Vec<(&String, &Value)> = o
        .get("parameterValues")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .collect();
    params.sort_by(|a, b| a.0.cmp(b.0));
    let params: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
        .collect();
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "—".to_owned()
        } else {
            v.join("\n")
        }
    };
    fields_table(&[
        ("Implementation status", implementation_status(o)),
        (
            "Responsible roles",
            list(roles.iter().map(|r| (*r).to_owned()).collect()),
        ),
        ("Parameter values", list(params)),
        (
            "Implementation narrative",
            implementation_narrative(o)
                .unwrap_or_else(|| "No implementation narrative has been written yet.".into()),
        ),
    ])
}
