//! Text extraction: turns uploaded bytes (Markdown, plain text, HTML, PDF) into plain text
//! whose headings are Markdown `#` lines, so chunking can follow the document's structure.
//!
//! Uploads are hostile until proven otherwise. Extraction caps what it reads (HTML size, PDF
//! pages, decompressed PDF streams, extracted text) and fails with a reason past a cap; and in
//! the shipped binaries, which abort on panic (`panic = "abort"`, so `catch_unwind` cannot
//! help), it runs in a child process with memory, CPU and time limits ([`sandbox`]): a panic,
//! a stack overflow or an allocation bomb ends the child, never the server.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};

use scraper::{Html, Node};

pub mod sandbox;
#[cfg(feature = "test-support")]
pub mod testing;

/// Largest HTML file parsed: the DOM of an HTML file takes many times its size in memory.
pub const MAX_HTML_BYTES: usize = 16 * 1024 * 1024;
/// Most pages read from a PDF.
pub const MAX_PDF_PAGES: usize = 2_000;
/// Most bytes all of a PDF's compressed streams may inflate to (a zip bomb stops here).
pub const MAX_PDF_DECOMPRESSED_BYTES: u64 = 256 * 1024 * 1024;
/// Most text one document may yield (Markdown and plain text files are their own text).
pub const MAX_TEXT_BYTES: usize = 32 * 1024 * 1024;

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

pub const MARKDOWN: &str = "text/markdown";
pub const PLAIN_TEXT: &str = "text/plain";
pub const HTML: &str = "text/html";
pub const PDF: &str = "application/pdf";

/// The media types `extract` understands, in the order a 415 response should name them.
pub const ACCEPTED_MEDIA_TYPES: [&str; 4] = [MARKDOWN, PLAIN_TEXT, HTML, PDF];

/// Text taken out of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The normalised media type the bytes were read as (one of `ACCEPTED_MEDIA_TYPES`).
    pub media_type: &'static str,
    /// The text, `\n` line endings, headings as Markdown `#` lines.
    pub text: String,
    /// A title found in the document itself (HTML `<title>`, first Markdown `# ` heading).
    pub title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("unsupported media type; accepted: {}", accepted.join(", "))]
    Unsupported { accepted: Vec<&'static str> },
    #[error("the file is corrupt: {0}")]
    Corrupt(String),
    #[error("the file is encrypted")]
    Encrypted,
    #[error("the file contains no text")]
    Empty,
    /// Past one of the caps above; the message names it.
    #[error("the file is too large to index: {0}")]
    TooLarge(String),
}

/// Extracts the text of `bytes` read as `media_type` (parameters such as `; charset=utf-8` are
/// ignored; common aliases such as `text/x-markdown` are accepted). In a process that called
/// [`sandbox::init`], PDF and HTML are read in a limited child process; everything else here.
pub fn extract(media_type: &str, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let media_type = normalize_media_type(media_type).ok_or_else(|| ExtractError::Unsupported {
        accepted: ACCEPTED_MEDIA_TYPES.to_vec(),
    })?;
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    // Markdown and plain text are checked string handling; the parsers of the complex formats
    // are what a hostile file attacks.
    if matches!(media_type, PDF | HTML)
        && let Some(outcome) = sandbox::run(media_type, bytes)
    {
        return outcome;
    }
    extract_here(media_type, bytes)
}

/// [`extract`] in this process, with every cap.
pub fn extract_here(media_type: &str, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let media_type = normalize_media_type(media_type).ok_or_else(|| ExtractError::Unsupported {
        accepted: ACCEPTED_MEDIA_TYPES.to_vec(),
    })?;
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    if media_type == HTML && bytes.len() > MAX_HTML_BYTES {
        return Err(ExtractError::TooLarge(format!(
            "the HTML file is {}; RaGenie reads HTML files up to {}",
            mb(bytes.len() as u64),
            mb(MAX_HTML_BYTES as u64)
        )));
    }
    if media_type != PDF && bytes.len() > MAX_TEXT_BYTES {
        return Err(ExtractError::TooLarge(format!(
            "the text is {}; RaGenie indexes up to {} of text per document",
            mb(bytes.len() as u64),
            mb(MAX_TEXT_BYTES as u64)
        )));
    }
    let (text, title) = match media_type {
        MARKDOWN => {
            let text = normalize_newlines(decode_utf8(bytes)?);
            let title = first_markdown_heading(&text);
            (text, title)
        }
        PLAIN_TEXT => (normalize_newlines(decode_utf8(bytes)?), None),
        HTML => html_to_text(decode_utf8(bytes)?),
        _ => (normalize_newlines(&pdf_to_text(bytes)?), None),
    };
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(ExtractError::TooLarge(format!(
            "the document yields {} of text; RaGenie indexes up to {} per document",
            mb(text.len() as u64),
            mb(MAX_TEXT_BYTES as u64)
        )));
    }
    Ok(Extracted {
        media_type,
        text,
        title,
    })
}

/// Maps a Content-Type value to one of `ACCEPTED_MEDIA_TYPES`, or `None` when unsupported.
pub fn normalize_media_type(media_type: &str) -> Option<&'static str> {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "text/markdown" | "text/x-markdown" | "text/md" => Some(MARKDOWN),
        "text/plain" => Some(PLAIN_TEXT),
        "text/html" | "application/xhtml+xml" => Some(HTML),
        "application/pdf" | "application/x-pdf" => Some(PDF),
        _ => None,
    }
}

/// Guesses a media type from a file name and the first bytes: magic bytes win over the
/// extension (a PDF named `notes.txt` is a PDF). Returns `application/octet-stream` for
/// anything that is neither a known binary format nor UTF-8 text.
pub fn sniff_media_type(name: &str, bytes: &[u8]) -> &'static str {
    let mut sniffer = MediaSniffer::new();
    sniffer.feed(bytes);
    sniffer.media_type(name)
}

/// The bytes of a file's start [`MediaSniffer`] keeps.
pub const SNIFF_HEAD_BYTES: usize = 8 * 1024;

/// [`sniff_media_type`] over bytes that arrive in chunks (a streamed upload): it keeps the
/// first [`SNIFF_HEAD_BYTES`] and whether everything so far is UTF-8 text without NUL, so
/// memory stays bounded whatever the file's size.
#[derive(Clone, Debug)]
pub struct MediaSniffer {
    head: Vec<u8>,
    /// The start of a character split across chunks (at most 3 bytes).
    carry: Vec<u8>,
    text: bool,
}

impl Default for MediaSniffer {
    fn default() -> Self {
        Self::new()
    }
}

impl MediaSniffer {
    pub fn new() -> Self {
        Self {
            head: Vec::new(),
            carry: Vec::new(),
            text: true,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        let room = SNIFF_HEAD_BYTES - self.head.len();
        self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if !self.text {
            return;
        }
        if chunk.contains(&0) {
            self.text = false;
            return;
        }
        let joined;
        let data = if self.carry.is_empty() {
            chunk
        } else {
            joined = [self.carry.as_slice(), chunk].concat();
            &joined
        };
        match std::str::from_utf8(data) {
            Ok(_) => self.carry.clear(),
            // Cut inside a character: the next chunk may finish it.
            Err(e) if e.error_len().is_none() => self.carry = data[e.valid_up_to()..].to_vec(),
            Err(_) => self.text = false,
        }
    }

    /// The guess for everything fed so far, for a file called `name`.
    pub fn media_type(&self, name: &str) -> &'static str {
        const MAGIC: [(&[u8], &str); 6] = [
            (b"%PDF-", PDF),
            (b"\x89PNG\r\n\x1a\n", "image/png"),
            (b"\xff\xd8\xff", "image/jpeg"),
            (b"GIF8", "image/gif"),
            (b"PK\x03\x04", "application/zip"),
            (b"\x1f\x8b", "application/gzip"),
        ];
        let bytes = self.head.as_slice();
        // PDF readers accept a header anywhere in the first KiB; so do we.
        let head = &bytes[..bytes.len().min(1024)];
        if head.windows(5).any(|w| w == b"%PDF-") {
            return PDF;
        }
        if let Some((_, kind)) = MAGIC.iter().find(|(magic, _)| bytes.starts_with(magic)) {
            return kind;
        }
        let extension = name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "md" | "markdown" | "mdown" | "mkd" | "mdx" => return MARKDOWN,
            "html" | "htm" | "xhtml" => return HTML,
            "pdf" => return PDF,
            "txt" | "text" | "log" | "csv" | "tsv" => return PLAIN_TEXT,
            _ => {}
        }
        if !self.text || !self.carry.is_empty() {
            return "application/octet-stream";
        }
        // The head may end inside a character: its whole characters are text.
        let head = strip_bom(bytes);
        let text = match std::str::from_utf8(head) {
            Ok(text) => text,
            Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
        };
        let start = text
            .trim_start()
            .get(..15)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if start.starts_with("<!doctype html") || start.starts_with("<html") {
            HTML
        } else {
            PLAIN_TEXT
        }
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

fn decode_utf8(bytes: &[u8]) -> Result<&str, ExtractError> {
    let text = std::str::from_utf8(strip_bom(bytes)).map_err(|e| {
        ExtractError::Corrupt(format!(
            "text is not valid UTF-8 (first bad byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    if text.contains('\0') {
        return Err(ExtractError::Corrupt(
            "text contains NUL bytes; is it a binary file?".into(),
        ));
    }
    Ok(text)
}

fn normalize_newlines(text: &str) -> String {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_owned()
    }
}

fn first_markdown_heading(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix("# "))
        .map(|title| title.trim().trim_end_matches('#').trim().to_owned())
        .filter(|title| !title.is_empty())
}

/// Pending separator between two pieces of text written from HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    None,
    Space,
    Line,
    Paragraph,
}

struct HtmlWriter {
    out: String,
    gap: Gap,
    /// Depth inside `<pre>`, where whitespace is kept.
    pre: usize,
    /// Inside a heading line, where breaks become spaces.
    heading: bool,
}

impl HtmlWriter {
    fn gap(&mut self, gap: Gap) {
        let gap = if self.heading {
            gap.min(Gap::Space)
        } else {
            gap
        };
        self.gap = self.gap.max(gap);
    }

    fn flush_gap(&mut self) {
        if !self.out.is_empty() {
            match self.gap {
                Gap::None => {}
                Gap::Space => self.out.push(' '),
                Gap::Line => self.out.push('\n'),
                Gap::Paragraph => self.out.push_str("\n\n"),
            }
        }
        self.gap = Gap::None;
    }

    fn text(&mut self, text: &str) {
        if self.pre > 0 && !self.heading {
            self.flush_gap();
            self.out.push_str(&normalize_newlines(text));
            return;
        }
        for c in text.chars() {
            if c.is_whitespace() {
                self.gap(Gap::Space);
            } else {
                self.flush_gap();
                self.out.push(c);
            }
        }
    }

    /// Writes literal Markdown markup (a heading's `#`s, a list bullet) after any pending gap.
    fn markup(&mut self, markup: &str) {
        self.flush_gap();
        self.out.push_str(markup);
    }
}

const SKIPPED_ELEMENTS: [&str; 9] = [
    "head", "script", "style", "noscript", "template", "svg", "iframe", "object", "canvas",
];
const BLOCK_ELEMENTS: [&str; 24] = [
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "nav",
    "aside",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "dl",
    "table",
    "figure",
    "figcaption",
    "form",
    "hr",
    "address",
    "details",
    "summary",
    "fieldset",
    "body",
];

fn heading_level(name: &str) -> Option<usize> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

fn html_to_text(html: &str) -> (String, Option<String>) {
    use ego_tree::iter::Edge;

    let document = Html::parse_document(html);
    let title = document
        .tree
        .root()
        .descendants()
        .find(|node| matches!(node.value(), Node::Element(e) if e.name() == "title"))
        .map(|node| {
            let text: String = node
                .descendants()
                .filter_map(|n| n.value().as_text().map(|t| t.to_string()))
                .collect();
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .filter(|title| !title.is_empty());

    let mut writer = HtmlWriter {
        out: String::new(),
        gap: Gap::None,
        pre: 0,
        heading: false,
    };
    // The traversal is iterative, so deeply nested markup cannot overflow the stack.
    let mut skipping: Option<ego_tree::NodeId> = None;
    for edge in document.tree.root().traverse() {
        match edge {
            Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Text(text) => writer.text(text),
                    Node::Element(element) => {
                        let name = element.name();
                        if SKIPPED_ELEMENTS.contains(&name) {
                            skipping = Some(node.id());
                        } else if let Some(level) = heading_level(name) {
                            writer.gap(Gap::Paragraph);
                            writer.markup(&format!("{} ", "#".repeat(level)));
                            writer.heading = true;
                        } else if name == "li" {
                            writer.gap(Gap::Line);
                            writer.markup("- ");
                        } else if matches!(name, "br" | "tr" | "dt" | "dd") {
                            writer.gap(Gap::Line);
                        } else if matches!(name, "td" | "th") {
                            writer.gap(Gap::Space);
                        } else if BLOCK_ELEMENTS.contains(&name) {
                            if name == "pre" {
                                writer.pre += 1;
                            }
                            writer.gap(Gap::Paragraph);
                        }
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if skipping == Some(node.id()) {
                    skipping = None;
                    continue;
                }
                if skipping.is_some() {
                    continue;
                }
                if let Node::Element(element) = node.value() {
                    let name = element.name();
                    if heading_level(name).is_some() {
                        writer.heading = false;
                        writer.gap(Gap::Paragraph);
                    } else if BLOCK_ELEMENTS.contains(&name) {
                        if name == "pre" {
                            writer.pre = writer.pre.saturating_sub(1);
                        }
                        writer.gap(Gap::Paragraph);
                    } else if matches!(name, "li" | "tr" | "dt" | "dd") {
                        writer.gap(Gap::Line);
                    }
                }
            }
        }
    }
    let mut text = writer.out;
    // A heading with no text leaves a bare "# " line behind; drop such lines.
    if text.lines().any(is_bare_heading) {
        text = text
            .lines()
            .filter(|line| !is_bare_heading(line))
            .collect::<Vec<_>>()
            .join("\n");
    }
    (text, title)
}

fn is_bare_heading(line: &str) -> bool {
    let trimmed = line.trim();
    !trimmed.is_empty() && trimmed.chars().all(|c| c == '#')
}

/// Inflates every Flate-compressed stream of the document into nothing, counting, so a small
/// file that inflates to gigabytes is refused before anything holds the inflated bytes.
fn check_decompressed_size(document: &lopdf::Document) -> Result<(), ExtractError> {
    let mut budget = MAX_PDF_DECOMPRESSED_BYTES;
    for object in document.objects.values() {
        let lopdf::Object::Stream(stream) = object else {
            continue;
        };
        let flate = match stream.dict.get(b"Filter") {
            Ok(lopdf::Object::Name(name)) => name.as_slice() == b"FlateDecode",
            Ok(lopdf::Object::Array(filters)) => filters
                .iter()
                .any(|f| matches!(f, lopdf::Object::Name(n) if n.as_slice() == b"FlateDecode")),
            _ => false,
        };
        let inflated = if flate {
            let mut decoder =
                flate2::read::ZlibDecoder::new(stream.content.as_slice()).take(budget + 1);
            // A corrupt stream inflates as far as it can; the reader reports it later.
            std::io::copy(&mut decoder, &mut std::io::sink()).unwrap_or(0)
        } else {
            stream.content.len() as u64
        };
        budget = budget.checked_sub(inflated).ok_or_else(|| {
            ExtractError::TooLarge(format!(
                "the PDF's compressed streams inflate to more than {}",
                mb(MAX_PDF_DECOMPRESSED_BYTES)
            ))
        })?;
    }
    Ok(())
}

fn pdf_to_text(bytes: &[u8]) -> Result<String, ExtractError> {
    // pdf-extract and lopdf index and unwrap freely on malformed files. In a build that unwinds
    // (tests) a panic becomes "corrupt" here; in the shipped build (abort) the sandbox's child
    // process is what survives it.
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<String, ExtractError> {
        let mut document = lopdf::Document::load_mem(bytes)
            .map_err(|e| ExtractError::Corrupt(format!("not a readable PDF: {e}")))?;
        if document.is_encrypted() {
            // Many PDFs are encrypted with an empty user password (owner restrictions only);
            // those open without asking anyone for anything, so we read them too.
            document.decrypt("").map_err(|_| ExtractError::Encrypted)?;
        }
        let pages = document.get_pages().len();
        if pages > MAX_PDF_PAGES {
            return Err(ExtractError::TooLarge(format!(
                "the PDF has {pages} pages; RaGenie reads PDFs of up to {MAX_PDF_PAGES} pages"
            )));
        }
        check_decompressed_size(&document)?;
        let mut text = String::new();
        {
            let mut output = pdf_extract::PlainTextOutput::new(&mut text);
            pdf_extract::output_doc(&document, &mut output)
                .map_err(|e| ExtractError::Corrupt(format!("cannot read the PDF's text: {e}")))?;
        }
        Ok(text)
    }));
    match outcome {
        Ok(result) => result,
        Err(_) => Err(ExtractError::Corrupt(
            "the PDF is malformed and could not be read".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_returned_with_unix_newlines_and_its_first_heading_as_title() {
        let got = extract("text/markdown; charset=utf-8", b"# Guide\r\n\r\nHello.\r\n").unwrap();
        assert_eq!(got.text, "# Guide\n\nHello.\n");
        assert_eq!(got.title.as_deref(), Some("Guide"));
        assert_eq!(got.media_type, MARKDOWN);
    }

    #[test]
    fn a_byte_order_mark_is_dropped_from_text() {
        let got = extract("text/plain", b"\xef\xbb\xbfhello").unwrap();
        assert_eq!(got.text, "hello");
    }

    #[test]
    fn non_utf8_text_is_reported_as_corrupt_not_a_panic() {
        let err = extract("text/plain", b"caf\xe9 au lait").unwrap_err();
        assert!(
            matches!(err, ExtractError::Corrupt(ref m) if m.contains("UTF-8")),
            "{err}"
        );
    }

    #[test]
    fn binary_bytes_labelled_as_text_are_corrupt() {
        let err = extract("text/markdown", b"abc\0\0def").unwrap_err();
        assert!(matches!(err, ExtractError::Corrupt(_)));
    }

    #[test]
    fn unsupported_types_name_the_accepted_ones() {
        let err = extract("image/png", b"\x89PNG").unwrap_err();
        assert_eq!(
            err,
            ExtractError::Unsupported {
                accepted: ACCEPTED_MEDIA_TYPES.to_vec()
            }
        );
        assert!(err.to_string().contains("application/pdf"));
    }

    #[test]
    fn empty_and_blank_files_are_empty() {
        let blank: [(&str, &[u8]); 3] = [
            ("text/plain", b""),
            ("text/markdown", b" \n\n\t"),
            ("text/html", b"<html><body> </body></html>"),
        ];
        for (kind, bytes) in blank {
            assert_eq!(extract(kind, bytes), Err(ExtractError::Empty), "{kind}");
        }
    }

    #[test]
    fn html_headings_become_markdown_heading_lines_and_scripts_are_dropped() {
        let html = br#"<!doctype html><html><head><title>The  Handbook</title>
            <style>p { color: red }</style></head>
            <body><h1>Handbook</h1><p>Welcome   to
            the <b>team</b>.</p><script>alert("x")</script>
            <h2>Leave <em>policy</em></h2><ul><li>Ask first</li><li>Enjoy</li></ul>
            <p>Line one<br>line two</p></body></html>"#;
        let got = extract("text/html", html).unwrap();
        assert_eq!(got.title.as_deref(), Some("The Handbook"));
        assert_eq!(
            got.text,
            "# Handbook\n\nWelcome to the team.\n\n## Leave policy\n\n- Ask first\n- Enjoy\n\nLine one\nline two"
        );
    }

    #[test]
    fn html_pre_blocks_keep_their_whitespace() {
        let got = extract("text/html", b"<p>Run:</p><pre>a  b\n  c</pre>").unwrap();
        assert_eq!(got.text, "Run:\n\na  b\n  c");
    }

    #[test]
    fn deeply_nested_html_does_not_overflow_the_stack() {
        let html = format!("{}deep{}", "<div>".repeat(10_000), "</div>".repeat(10_000));
        let got = extract("text/html", html.as_bytes()).unwrap();
        assert_eq!(got.text, "deep");
    }

    #[test]
    fn garbage_labelled_as_pdf_is_corrupt() {
        let err = extract("application/pdf", b"%PDF-1.7\n this is not really a pdf").unwrap_err();
        assert!(matches!(err, ExtractError::Corrupt(_)), "{err:?}");
        let err = extract("application/pdf", b"hello").unwrap_err();
        assert!(matches!(err, ExtractError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn sniffing_prefers_magic_bytes_over_the_extension() {
        assert_eq!(sniff_media_type("notes.txt", b"%PDF-1.4 ..."), PDF);
        assert_eq!(
            sniff_media_type("photo.md", b"\x89PNG\r\n\x1a\n...."),
            "image/png"
        );
        assert_eq!(sniff_media_type("README.md", b"# Title"), MARKDOWN);
        assert_eq!(sniff_media_type("page.HTM", b"<p>x</p>"), HTML);
        assert_eq!(sniff_media_type("notes", b"just words"), PLAIN_TEXT);
        assert_eq!(sniff_media_type("page", b"  <!DOCTYPE html><html>"), HTML);
        assert_eq!(
            sniff_media_type("blob", b"\xff\xfe\x00\x01"),
            "application/octet-stream"
        );
        assert_eq!(
            sniff_media_type("report.docx", b"PK\x03\x04rest"),
            "application/zip"
        );
    }

    /// A streamed upload is sniffed a chunk at a time: any cut gives the whole file's answer,
    /// including a character split between chunks and a bad byte far past the kept head.
    #[test]
    fn sniffing_in_chunks_agrees_with_sniffing_the_whole_file() {
        let mut late_binary = "é".repeat(SNIFF_HEAD_BYTES).into_bytes();
        late_binary.push(0xff);
        let mut late_nul = b"<!DOCTYPE html><html>".to_vec();
        late_nul.extend(std::iter::repeat_n(b'a', 3 * SNIFF_HEAD_BYTES));
        late_nul.push(0);
        let files: [(&str, Vec<u8>); 5] = [
            ("notes", "ünïcödé ".repeat(5000).into_bytes()),
            ("page", b"  <!DOCTYPE html><html>".to_vec()),
            ("blob", late_binary),
            ("blob", late_nul),
            ("blob", "end cut é".as_bytes()[..9].to_vec()),
        ];
        for (name, bytes) in &files {
            let whole = sniff_media_type(name, bytes);
            for chunk in [1, 2, 3, 7, 1000, SNIFF_HEAD_BYTES + 1] {
                let mut sniffer = MediaSniffer::new();
                bytes.chunks(chunk).for_each(|c| sniffer.feed(c));
                assert_eq!(
                    sniffer.media_type(name),
                    whole,
                    "{name} in chunks of {chunk}"
                );
            }
        }
        assert_eq!(sniff_media_type("notes", files[0].1.as_slice()), PLAIN_TEXT);
        assert_eq!(
            sniff_media_type("blob", &files[2].1),
            "application/octet-stream"
        );
        assert_eq!(
            sniff_media_type("blob", &files[3].1),
            "application/octet-stream"
        );
        assert_eq!(
            sniff_media_type("blob", &files[4].1),
            "application/octet-stream"
        );
    }
}
