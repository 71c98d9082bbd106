//! The analyzer: Unicode word tokenization, lowercasing, English stop words and Snowball
//! (Porter2) stemming. Indexing and querying must share it, so it lives in one place.

use rustc_hash::{FxHashMap, FxHashSet};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

/// Lucene's English stop set plus a few more function words that carry no topic.
const STOP_WORDS: [&str; 42] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "been", "has", "have", "had", "its", "were",
    "which", "from", "than",
];

/// Words longer than this are noise (hashes, base64) and are not indexed.
const MAX_TERM_CHARS: usize = 64;

const STEM_CACHE_LIMIT: usize = 100_000;

thread_local! {
    static STEMS: RefCell<FxHashMap<Box<str>, Rc<str>>> = RefCell::new(FxHashMap::default());
}

static STOPS: LazyLock<FxHashSet<&'static str>> =
    LazyLock::new(|| STOP_WORDS.into_iter().collect());
static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Calls `emit(term, byte_start, byte_end)` for each indexable word of `text`, in order.
/// The span is the word as written, for highlighting.
pub fn analyze_spans(text: &str, mut emit: impl FnMut(&str, usize, usize)) {
    let mut lower = String::new();
    for (start, end) in words(text) {
        let word = &text[start..end];
        lower.clear();
        let mut chars = 0;
        for c in word.chars() {
            if c.is_uppercase() {
                lower.extend(c.to_lowercase());
            } else {
                lower.push(c);
            }
            chars += 1;
        }
        if chars > MAX_TERM_CHARS || STOPS.contains(lower.as_str()) {
            continue;
        }
        if lower.bytes().any(|b| b.is_ascii_digit()) {
            // Stemming "covid19s" or "1990s" helps nobody; numbers match as written.
            emit(&lower, start, end);
            continue;
        }
        // Words repeat a lot (Zipf), and stemming is the analyzer's dearest step.
        let cached = STEMS.with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            if let Some(stem) = cache.get(lower.as_str()) {
                return Some(stem.clone());
            }
            if cache.len() >= STEM_CACHE_LIMIT {
                cache.clear();
            }
            let stem: Rc<str> = STEMMER.stem(&lower).into();
            cache.insert(lower.as_str().into(), stem.clone());
            Some(stem)
        });
        match cached {
            Some(stem) => emit(&stem, start, end),
            None => emit(&STEMMER.stem(&lower), start, end),
        }
    }
}

/// The terms of `text`, in order, repeats kept.
pub fn analyze(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    analyze_spans(text, |term, _, _| terms.push(term.to_owned()));
    terms
}

/// Byte spans of words: maximal runs of alphanumeric characters (any script). An apostrophe
/// between letters joins them ("don't"), and a possessive "'s" is dropped ("cell's" → "cell").
fn words(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let start = loop {
            let (i, c) = chars.next()?;
            if c.is_alphanumeric() {
                break i;
            }
        };
        let mut end = text.len();
        while let Some(&(i, c)) = chars.peek() {
            if c.is_alphanumeric() {
                chars.next();
                continue;
            }
            if c == '\'' || c == '\u{2019}' {
                let rest = &text[i + c.len_utf8()..];
                let mut after = rest.chars();
                let next = after.next();
                let next_next = after.next();
                if matches!(next, Some('s' | 'S')) && !next_next.is_some_and(char::is_alphanumeric)
                {
                    // Possessive: the word ends before the apostrophe; skip the "s".
                    end = i;
                    chars.next();
                    chars.next();
                    break;
                }
                if next.is_some_and(char::is_alphabetic) {
                    chars.next();
                    continue;
                }
            }
            end = i;
            break;
        }
        Some((start, end))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_stemmed_and_stop_words_dropped() {
        assert_eq!(
            analyze("The Running of the Bulls is running-related"),
            vec!["run", "bull", "run", "relat"]
        );
    }

    #[test]
    fn possessives_and_contractions_are_handled() {
        assert_eq!(analyze("the cell's nucleus"), vec!["cell", "nucleus"]);
        assert_eq!(analyze("don't"), vec!["don't"]);
    }

    #[test]
    fn unicode_words_split_and_lowercase_in_any_script() {
        assert_eq!(
            analyze("Ärzte,Über-Straße"),
            vec!["ärzte", "über", "straße"]
        );
        assert_eq!(analyze("Привет мир"), vec!["привет", "мир"]);
    }

    #[test]
    fn numbers_are_kept_unstemmed() {
        assert_eq!(
            analyze("IL-6 levels in 1990s"),
            vec!["il", "6", "level", "1990s"]
        );
    }

    #[test]
    fn spans_point_at_the_words_as_written() {
        let text = "Héllo, Wörld's end";
        let mut spans = Vec::new();
        analyze_spans(text, |term, s, e| {
            spans.push((term.to_owned(), &text[s..e]))
        });
        assert_eq!(
            spans,
            vec![
                ("héllo".to_owned(), "Héllo"),
                ("wörld".to_owned(), "Wörld"),
                ("end".to_owned(), "end"),
            ]
        );
    }

    #[test]
    fn absurdly_long_tokens_are_skipped() {
        let long = "x".repeat(100);
        assert_eq!(
            analyze(&format!("short {long} word")),
            vec!["short", "word"]
        );
    }
}
