//! Snippets: the part of a chunk with the most query words, HTML-escaped, matches in `<mark>`.

use std::collections::HashSet;

use crate::analyze::analyze_spans;

/// Characters of context kept before the first match of the chosen window.
const LEAD_FRACTION: usize = 6;

pub(crate) fn snippet(text: &str, terms: &HashSet<&str>, max_chars: usize) -> String {
    let mut matches: Vec<(usize, usize, String)> = Vec::new();
    analyze_spans(text, |term, start, end| {
        if terms.contains(term) {
            matches.push((start, end, term.to_owned()));
        }
    });
    // Byte offset of every character, plus the end, so windows are counted in characters.
    let mut boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    boundaries.push(text.len());
    let char_count = boundaries.len() - 1;
    let to_char = |byte: usize| boundaries.partition_point(|b| *b < byte);

    let (mut from, mut to) = (0, char_count);
    if char_count > max_chars {
        let mut best = (0, 0, 0usize);
        for (i, (start, _, _)) in matches.iter().enumerate() {
            let window_start = to_char(*start).saturating_sub(max_chars / LEAD_FRACTION);
            let window_end = window_start + max_chars;
            let inside: Vec<&str> = matches[i..]
                .iter()
                .take_while(|(s, _, _)| to_char(*s) < window_end)
                .map(|(_, _, t)| t.as_str())
                .collect();
            let distinct = inside.iter().collect::<HashSet<_>>().len();
            if (distinct, inside.len()) > (best.0, best.1) {
                best = (distinct, inside.len(), window_start);
            }
        }
        from = best.2;
        to = (from + max_chars).min(char_count);
        if to == char_count {
            from = char_count.saturating_sub(max_chars);
        }
        // Start and end on word boundaries when one is near.
        if from > 0
            && !text[..boundaries[from]].ends_with(char::is_whitespace)
            && let Some(skip) = text[boundaries[from]..]
                .chars()
                .take(20)
                .position(char::is_whitespace)
        {
            from += skip + 1;
        }
        if to < char_count
            && let Some(back) = text[..boundaries[to]]
                .chars()
                .rev()
                .take(20)
                .position(char::is_whitespace)
        {
            to -= back + 1;
        }
    }
    while from < to && text[boundaries[from]..].starts_with(char::is_whitespace) {
        from += 1;
    }
    while to > from && text[..boundaries[to]].ends_with(char::is_whitespace) {
        to -= 1;
    }
    let (from_byte, to_byte) = (boundaries[from], boundaries[to]);

    let mut out = String::with_capacity(to_byte - from_byte + 32);
    if from > 0 {
        out.push('…');
    }
    let mut cursor = from_byte;
    for (start, end, _) in &matches {
        if *start < from_byte || *end > to_byte {
            continue;
        }
        escape_into(&text[cursor..*start], &mut out);
        out.push_str("<mark>");
        escape_into(&text[*start..*end], &mut out);
        out.push_str("</mark>");
        cursor = *end;
    }
    escape_into(&text[cursor..to_byte], &mut out);
    if to < char_count {
        out.push('…');
    }
    out
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' | '\t' => out.push(' '),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(list: &[&'static str]) -> HashSet<&'static str> {
        list.iter().copied().collect()
    }

    #[test]
    fn matched_words_are_marked_and_text_is_escaped() {
        let got = snippet(
            "Cats <b>chase</b> & catch mice.",
            &terms(&["cat", "mice"]),
            240,
        );
        assert_eq!(
            got,
            "<mark>Cats</mark> &lt;b&gt;chase&lt;/b&gt; &amp; catch <mark>mice</mark>."
        );
    }

    #[test]
    fn long_text_is_cut_around_the_densest_matches_on_word_boundaries() {
        let text = format!(
            "{} the rare zebra grazes near another zebra today {}",
            "filler words here ".repeat(40),
            "more padding text ".repeat(40)
        );
        let got = snippet(&text, &terms(&["zebra", "graze"]), 80);
        assert!(got.starts_with('…') && got.ends_with('…'), "{got}");
        assert!(
            got.contains("<mark>zebra</mark> <mark>grazes</mark>"),
            "{got}"
        );
        let visible = got.replace("<mark>", "").replace("</mark>", "");
        assert!(visible.chars().count() <= 80 + 2, "{got}");
        let inner = got.trim_matches('…');
        assert!(!inner.starts_with(' ') && !inner.ends_with(' '), "{got}");
    }

    #[test]
    fn a_chunk_without_matches_yields_its_beginning() {
        let got = snippet("ÄÖÜ é 😀 ".repeat(50).as_str(), &terms(&["zzz"]), 30);
        assert!(got.starts_with("ÄÖÜ"), "{got}");
        assert!(got.ends_with('…'));
    }
}
