//! Token counting with OpenAI's o200k_base encoding (GPT-4o and later), loaded once per process.

use std::sync::LazyLock;

use tiktoken_rs::CoreBPE;

// The encoding's tables are compiled into the binary; building them cannot fail on any input,
// only on a broken build of tiktoken-rs itself.
static ENCODING: LazyLock<CoreBPE> =
    LazyLock::new(|| tiktoken_rs::o200k_base().expect("tiktoken-rs ships o200k_base"));

/// Byte length of every ordinary token, indexed by rank (0 where a rank is unused), so
/// finding token boundaries needs no decoding.
static TOKEN_LENGTHS: LazyLock<Vec<u16>> = LazyLock::new(|| {
    (0..ORDINARY_RANKS)
        .map(|rank| {
            ENCODING
                .decode_bytes(&[rank])
                .map_or(0, |b| u16::try_from(b.len()).unwrap_or(0))
        })
        .collect()
});

/// o200k_base's ordinary tokens have ranks below this.
const ORDINARY_RANKS: u32 = 200_000;

/// Name of the encoding `count_tokens` uses.
pub const ENCODING_NAME: &str = "o200k_base";

/// Number of tokens `text` encodes to (special-token markers count as plain text).
pub fn count_tokens(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    ENCODING.encode_ordinary(text).len()
}

/// Where each token of a text starts, from one encoding pass, so the tokens of any span of
/// the text can be counted without encoding it again.
pub(crate) struct TokenStarts {
    starts: Vec<usize>,
}

impl TokenStarts {
    pub(crate) fn new(text: &str) -> Self {
        if text.is_empty() {
            return Self { starts: Vec::new() };
        }
        let tokens = ENCODING.encode_ordinary(text);
        let lengths = &*TOKEN_LENGTHS;
        let mut starts = Vec::with_capacity(tokens.len());
        let mut position = 0;
        for token in tokens {
            starts.push(position);
            position += match lengths.get(token as usize) {
                Some(&len) if len > 0 => usize::from(len),
                _ => ENCODING.decode_bytes(&[token]).map_or(0, |b| b.len()),
            };
        }
        Self { starts }
    }

    /// Tokens of the whole text.
    pub(crate) fn total(&self) -> usize {
        self.starts.len()
    }

    /// Tokens that start within the byte range `start..end`. Equals encoding the span alone,
    /// give or take one token where a word's leading space falls just outside the span.
    pub(crate) fn count(&self, start: usize, end: usize) -> usize {
        let from = self.starts.partition_point(|s| *s < start);
        let to = self.starts.partition_point(|s| *s < end);
        to.saturating_sub(from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_counts_match_the_o200k_encoding() {
        assert_eq!(count_tokens(""), 0);
        assert_eq!(count_tokens("hello world"), 2);
        assert!(
            count_tokens("<|endoftext|>") > 1,
            "special tokens are plain text here"
        );
    }

    #[test]
    fn token_starts_count_spans_like_encoding_them_alone() {
        let text = "Tokenizers split text into pieces. Émile's café serves crème brûlée!\n\nNew paragraph, 12345 tokens.";
        let starts = TokenStarts::new(text);
        assert_eq!(starts.total(), count_tokens(text));
        assert_eq!(starts.count(0, text.len()), count_tokens(text));
        assert_eq!(starts.count(5, 5), 0);
        let second = text.find("Émile").unwrap();
        let paragraph = text.find("New").unwrap();
        for (start, end) in [(0, second), (second, paragraph), (paragraph, text.len())] {
            let counted = starts.count(start, end) as isize;
            let alone = count_tokens(text[start..end].trim()) as isize;
            assert!((counted - alone).abs() <= 1, "{counted} vs {alone}");
        }
    }
}
