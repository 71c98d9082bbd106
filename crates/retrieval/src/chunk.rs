//! Chunking: splits extracted text along Markdown headings and paragraphs into token-bounded
//! chunks with overlap, each knowing its heading path and character offsets.

use serde::{Deserialize, Serialize};

use crate::tokens::TokenStarts;

/// How big chunks are and how much consecutive chunks of one section overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkConfig {
    /// Upper bound on a chunk's tokens; a chunk only exceeds it when a single word does.
    pub max_tokens: usize,
    /// Tokens of trailing text repeated at the start of the next chunk of the same section.
    pub overlap_tokens: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        Self {
            max_tokens: 300,
            overlap_tokens: 50,
        }
    }
}

/// One piece of a document's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Position among the document's chunks, from 0.
    pub index: u32,
    /// Titles of the enclosing headings, outermost first (empty before the first heading).
    pub heading_path: Vec<String>,
    /// Offset of the chunk's first character in the extracted text, in Unicode scalar values.
    pub start: usize,
    /// Offset just past the chunk's last character, in Unicode scalar values.
    pub end: usize,
    /// Tokens of `text` in the `tokens::ENCODING_NAME` encoding, counted within the
    /// document's encoding (encoding `text` alone may differ by one at its edges).
    pub token_count: usize,
    /// The chunk's text, exactly the extracted text between `start` and `end`.
    pub text: String,
}

/// A run of text that is never split further unless it alone exceeds the budget.
#[derive(Debug, Clone, Copy)]
struct Unit {
    start: usize,
    end: usize,
    tokens: usize,
}

struct Section {
    heading_path: Vec<String>,
    paragraphs: Vec<(usize, usize)>,
}

/// Splits `text` into chunks of at most `config.max_tokens` tokens. Chunks never span two
/// sections (a heading starts a new one); within a section they follow paragraphs, then
/// sentences, then words.
pub fn chunk_text(text: &str, config: &ChunkConfig) -> Vec<Chunk> {
    chunk_document(text, config).0
}

/// `chunk_text` plus the token count of the whole text, from the same single encoding pass.
pub fn chunk_document(text: &str, config: &ChunkConfig) -> (Vec<Chunk>, usize) {
    let tokens = TokenStarts::new(text);
    let max_tokens = config.max_tokens.max(1);
    let mut sections = parse_sections(text, false);
    if sections.iter().all(|s| s.paragraphs.is_empty()) {
        // A document of headings only still deserves to be found by them.
        sections = parse_sections(text, true);
    }

    let mut spans: Vec<(Vec<String>, usize, usize, usize)> = Vec::new();
    for section in sections {
        let mut units = Vec::new();
        let splitter = Splitter {
            text,
            counter: &tokens,
            max_tokens,
        };
        for &(start, end) in &section.paragraphs {
            splitter.split(start, end, &mut units);
        }
        pack_units(
            &tokens,
            &units,
            max_tokens,
            config.overlap_tokens,
            |start, end, count| {
                spans.push((section.heading_path.clone(), start, end, count));
            },
        );
    }

    let char_offsets = CharOffsets::new(text, spans.iter().flat_map(|s| [s.1, s.2]));
    let chunks = spans
        .into_iter()
        .enumerate()
        .map(|(index, (heading_path, start, end, token_count))| Chunk {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            heading_path,
            start: char_offsets.get(start),
            end: char_offsets.get(end),
            token_count,
            text: text[start..end].to_owned(),
        })
        .collect();
    (chunks, tokens.total())
}

/// Parses heading lines (ATX `#` style, outside code fences) and blank-line separated
/// paragraphs. With `headings_as_text`, heading lines are paragraphs of the first section.
fn parse_sections(text: &str, headings_as_text: bool) -> Vec<Section> {
    let mut sections = vec![Section {
        heading_path: Vec::new(),
        paragraphs: Vec::new(),
    }];
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut paragraph: Option<(usize, usize)> = None;
    let mut fence: Option<&str> = None;
    let mut offset = 0;

    for raw_line in text.split_inclusive('\n') {
        let line_start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        let line_end = line_start + line.len();
        let trimmed = line.trim_start();

        if let Some(marker) = fence {
            if trimmed.starts_with(marker) {
                fence = None;
            }
            extend(&mut paragraph, line_start, line_end);
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
            extend(&mut paragraph, line_start, line_end);
            continue;
        }
        if trimmed.is_empty() {
            close(&mut paragraph, text, sections.last_mut());
            continue;
        }
        if let Some((level, title)) = heading(line) {
            close(&mut paragraph, text, sections.last_mut());
            if headings_as_text {
                if let Some(section) = sections.last_mut() {
                    section.paragraphs.push((line_start, line_end));
                }
                continue;
            }
            while stack.last().is_some_and(|(l, _)| *l >= level) {
                stack.pop();
            }
            stack.push((level, title.to_owned()));
            sections.push(Section {
                heading_path: stack.iter().map(|(_, t)| t.clone()).collect(),
                paragraphs: Vec::new(),
            });
            continue;
        }
        extend(&mut paragraph, line_start, line_end);
    }
    close(&mut paragraph, text, sections.last_mut());
    sections
}

fn extend(paragraph: &mut Option<(usize, usize)>, start: usize, end: usize) {
    match paragraph {
        Some((_, e)) => *e = end,
        None => *paragraph = Some((start, end)),
    }
}

fn close(paragraph: &mut Option<(usize, usize)>, text: &str, section: Option<&mut Section>) {
    if let (Some((start, end)), Some(section)) = (paragraph.take(), section)
        && let Some(span) = trim_span(text, start, end)
    {
        section.paragraphs.push(span);
    }
}

/// `(level, title)` of an ATX heading line such as `## Leave policy ##`.
fn heading(line: &str) -> Option<(usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !after.is_empty() && !after.starts_with([' ', '\t']) {
        return None;
    }
    let title = after.trim().trim_end_matches('#').trim_end();
    Some((level, title))
}

fn trim_span(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let slice = &text[start..end];
    let trimmed_start = slice.len() - slice.trim_start().len();
    let trimmed = slice.trim();
    if trimmed.is_empty() {
        None
    } else {
        Some((start + trimmed_start, start + trimmed_start + trimmed.len()))
    }
}

/// Cuts a paragraph into units within the token budget: the whole paragraph, else its
/// sentences, else windows of its words.
struct Splitter<'a> {
    text: &'a str,
    counter: &'a TokenStarts,
    max_tokens: usize,
}

impl Splitter<'_> {
    fn split(&self, start: usize, end: usize, out: &mut Vec<Unit>) {
        let tokens = self.counter.count(start, end);
        if tokens <= self.max_tokens {
            out.push(Unit { start, end, tokens });
            return;
        }
        for (s, e) in sentences(self.text, start, end) {
            let tokens = self.counter.count(s, e);
            if tokens <= self.max_tokens {
                out.push(Unit {
                    start: s,
                    end: e,
                    tokens,
                });
            } else {
                self.split_words(s, e, out);
            }
        }
    }

    /// Windows of whole words within budget; a single word over budget stands alone.
    fn split_words(&self, start: usize, end: usize, out: &mut Vec<Unit>) {
        let slice = &self.text[start..end];
        let mut window: Option<Unit> = None;
        let mut position = 0;
        for word in slice.split_inclusive(char::is_whitespace) {
            let (s, e) = (start + position, start + position + word.trim_end().len());
            position += word.len();
            if s == e {
                continue;
            }
            let tokens = self.counter.count(s, e).max(1);
            match &mut window {
                Some(w) if w.tokens + tokens <= self.max_tokens => {
                    w.end = e;
                    w.tokens += tokens;
                }
                _ => {
                    if let Some(w) = window.take() {
                        out.push(w);
                    }
                    window = Some(Unit {
                        start: s,
                        end: e,
                        tokens,
                    });
                }
            }
        }
        if let Some(w) = window {
            out.push(w);
        }
    }
}

/// Sentence spans: a sentence ends at `.`, `!` or `?` followed by whitespace, or at a newline.
fn sentences(text: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let slice = &text[start..end];
    let mut spans = Vec::new();
    let mut sentence_start = 0;
    let mut chars = slice.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let boundary = match c {
            '\n' => Some(i),
            '.' | '!' | '?' => match chars.peek() {
                Some((_, next)) if next.is_whitespace() => Some(i + c.len_utf8()),
                _ => None,
            },
            _ => None,
        };
        if let Some(b) = boundary {
            if let Some(span) = trim_span(text, start + sentence_start, start + b) {
                spans.push(span);
            }
            sentence_start = b;
        }
    }
    if let Some(span) = trim_span(text, start + sentence_start, end) {
        spans.push(span);
    }
    spans
}

/// Greedily packs consecutive units up to the budget; each next chunk starts with as many
/// trailing units of the previous one as fit in the overlap (always moving forward).
fn pack_units(
    counter: &TokenStarts,
    units: &[Unit],
    max_tokens: usize,
    overlap_tokens: usize,
    mut emit: impl FnMut(usize, usize, usize),
) {
    let mut i = 0;
    while i < units.len() {
        let mut j = i;
        let mut tokens = 0;
        while j < units.len() && (j == i || tokens + units[j].tokens <= max_tokens) {
            tokens += units[j].tokens;
            j += 1;
        }
        let (start, end) = (units[i].start, units[j - 1].end);
        emit(start, end, counter.count(start, end));
        if j == units.len() {
            break;
        }
        let mut next = j;
        let mut overlap = 0;
        while next > i + 1 && overlap + units[next - 1].tokens <= overlap_tokens {
            next -= 1;
            overlap += units[next].tokens;
        }
        i = next;
    }
}

/// Converts byte offsets to character offsets in one pass over the text.
struct CharOffsets {
    map: Vec<(usize, usize)>,
}

impl CharOffsets {
    fn new(text: &str, offsets: impl Iterator<Item = usize>) -> Self {
        let mut wanted: Vec<usize> = offsets.collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut map = Vec::with_capacity(wanted.len());
        let mut chars = 0;
        let mut byte = 0;
        for target in wanted {
            chars += text[byte..target].chars().count();
            byte = target;
            map.push((target, chars));
        }
        Self { map }
    }

    fn get(&self, byte: usize) -> usize {
        self.map
            .binary_search_by_key(&byte, |(b, _)| *b)
            .map(|i| self.map[i].1)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::count_tokens;

    fn config(max_tokens: usize, overlap_tokens: usize) -> ChunkConfig {
        ChunkConfig {
            max_tokens,
            overlap_tokens,
        }
    }

    fn slice_chars(text: &str, start: usize, end: usize) -> String {
        text.chars().skip(start).take(end - start).collect()
    }

    #[test]
    fn chunks_follow_headings_and_carry_their_heading_path() {
        let text = "Intro line.\n\n# Guide\n\nWelcome.\n\n## Leave\n\nAsk first.\n\n### Sick days ###\n\nCall in.\n\n## Pay\n\nMonthly.\n";
        let chunks = chunk_text(text, &ChunkConfig::default());
        let got: Vec<(Vec<&str>, &str)> = chunks
            .iter()
            .map(|c| {
                (
                    c.heading_path.iter().map(String::as_str).collect(),
                    c.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (vec![], "Intro line."),
                (vec!["Guide"], "Welcome."),
                (vec!["Guide", "Leave"], "Ask first."),
                (vec!["Guide", "Leave", "Sick days"], "Call in."),
                (vec!["Guide", "Pay"], "Monthly."),
            ]
        );
        assert!(
            chunks
                .iter()
                .enumerate()
                .all(|(i, c)| c.index as usize == i)
        );
    }

    #[test]
    fn offsets_are_character_offsets_into_the_text() {
        let text = "# Café ☕\n\nÜber naïve résumé.\n\nZweiter Absatz – mit Strich.";
        let chunks = chunk_text(text, &config(5, 0));
        assert!(chunks.len() >= 2);
        for chunk in &chunks {
            assert_eq!(slice_chars(text, chunk.start, chunk.end), chunk.text);
            let alone = count_tokens(&chunk.text) as isize;
            assert!((chunk.token_count as isize - alone).abs() <= 1, "{chunk:?}");
        }
    }

    #[test]
    fn long_sections_split_within_budget_with_overlap() {
        let sentences: Vec<String> = (0..60)
            .map(|i| format!("Sentence number {i} talks about topic {}.", i * 7))
            .collect();
        let text = format!("# Long\n\n{}", sentences.join(" "));
        let chunks = chunk_text(&text, &config(60, 15));
        assert!(chunks.len() > 5, "{} chunks", chunks.len());
        for pair in chunks.windows(2) {
            assert!(pair[0].token_count <= 60, "{}", pair[0].token_count);
            assert!(pair[1].start < pair[0].end, "consecutive chunks overlap");
            assert!(pair[1].start > pair[0].start, "chunks move forward");
        }
        // Every sentence is in some chunk.
        for sentence in &sentences {
            assert!(chunks.iter().any(|c| c.text.contains(sentence.as_str())));
        }
    }

    #[test]
    fn a_run_of_text_without_sentence_breaks_is_split_by_words() {
        let text = "word ".repeat(1000);
        let chunks = chunk_text(&text, &config(100, 0));
        assert!(chunks.len() >= 10);
        assert!(chunks.iter().all(|c| c.token_count <= 101));
        let words: usize = chunks
            .iter()
            .map(|c| c.text.split_whitespace().count())
            .sum();
        assert_eq!(words, 1000);
    }

    #[test]
    fn headings_inside_code_fences_are_text() {
        let text = "# Real\n\n```sh\n# not a heading\n\necho hi\n```\n";
        let chunks = chunk_text(text, &ChunkConfig::default());
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].heading_path, vec!["Real"]);
        assert!(chunks[0].text.contains("# not a heading\n\necho hi"));
    }

    #[test]
    fn a_document_of_headings_only_still_has_chunks() {
        let chunks = chunk_text("# One\n## Two\n", &ChunkConfig::default());
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].text, "# One\n## Two");
    }

    #[test]
    fn empty_text_has_no_chunks() {
        assert!(chunk_text("", &ChunkConfig::default()).is_empty());
        assert!(chunk_text("\n \n", &ChunkConfig::default()).is_empty());
    }

    #[test]
    fn hashes_without_a_space_are_not_headings() {
        assert_eq!(heading("#hashtag"), None);
        assert_eq!(heading("    # indented code"), None);
        assert_eq!(heading("## Two ##"), Some((2, "Two")));
        assert_eq!(heading("#"), Some((1, "")));
    }
}
