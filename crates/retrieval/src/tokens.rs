//! Token counting with OpenAI's o200k_base encoding (GPT-4o and later), loaded once per process.

use std::sync::LazyLock;

use tiktoken_rs::CoreBPE;

// The encoding's tables are compiled into the binary; building them cannot fail on any input,
// only on a broken build of tiktoken-rs itself.
static ENCODING: LazyLock<CoreBPE> =
    LazyLock::new(|| tiktoken_rs::o200k_base().expect("tiktoken-rs ships o200k_base"));

/// Name of the encoding `count_tokens` uses.
pub const ENCODING_NAME: &str = "o200k_base";

/// Number of tokens `text` encodes to (special-token markers count as plain text).
pub fn count_tokens(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    ENCODING.encode_ordinary(text).len()
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
}
