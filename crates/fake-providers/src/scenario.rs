//! What a fake answer looks like: the scripted reply, its chunks, usage, and injected failures.
//!
//! Directives come from `[[fake:…]]` in the last user message, or from an `x-fake-scenario`
//! header, separated by spaces:
//!
//! | directive | effect |
//! | --- | --- |
//! | `429`, `500`, `503`, any 4xx/5xx | that status (provider's error body) on every attempt |
//! | `429x2`, `500x1` | that status for the first N attempts of this exact request, then success |
//! | `retry_after=S` | `Retry-After` seconds sent with a 429/503 (default 1) |
//! | `cut` | the connection is cut after half the answer (streamed or not) |
//! | `error` | a provider error event after half the answer (streamed only) |
//! | `stall` | one chunk, then silence for an hour (idle-timeout tests) |
//! | `long`, `long=N` | an N-word answer (default 2000), at least 5 ms per chunk (stop tests) |
//! | `length` | finish reason "max length" |
//! | `cache` | usage reports cached prompt tokens (half the input; Anthropic also writes a quarter) |
//! | `chunk=N`, `delay=MS` | chunk size and per-chunk delay for this request |
//! | `nostream` | OpenAI formats: one JSON body even when a stream was asked (as some compatible servers do) |
//!
//! Usage is deterministic: a text counts `ceil(chars / 4)` tokens; input is the sum over the
//! instructions and every message, output is the reply's count.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use crate::{FakeConfig, State};

/// Tokens of a text, by the fakes' rule.
pub fn count_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    pub fail_status: Option<u16>,
    /// `None`: fail every time.
    pub fail_times: Option<u32>,
    pub retry_after: Option<String>,
    pub cut: bool,
    pub error: bool,
    pub stall: bool,
    pub long: Option<usize>,
    pub length: bool,
    pub cache: bool,
    pub chunk: Option<usize>,
    pub delay_ms: Option<u64>,
    pub nostream: bool,
}

impl Scenario {
    /// Reads every `[[fake:…]]` in `text` and the header value, if any.
    pub fn parse(text: &str, header: Option<&str>) -> Scenario {
        let mut s = Scenario::default();
        let mut rest = text;
        while let Some(start) = rest.find("[[fake:") {
            let after = &rest[start + 7..];
            let Some(end) = after.find("]]") else { break };
            s.apply(&after[..end]);
            rest = &after[end + 2..];
        }
        if let Some(h) = header {
            s.apply(h);
        }
        s
    }

    fn apply(&mut self, directives: &str) {
        for d in directives.split(|c: char| c.is_whitespace() || c == ',') {
            let (name, value) = match d.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (d, None),
            };
            match name {
                "" => {}
                "cut" => self.cut = true,
                "error" => self.error = true,
                "stall" => self.stall = true,
                "length" => self.length = true,
                "cache" => self.cache = true,
                "nostream" => self.nostream = true,
                "long" => self.long = Some(value.and_then(|v| v.parse().ok()).unwrap_or(2000)),
                "chunk" => self.chunk = value.and_then(|v| v.parse().ok()).filter(|n| *n > 0),
                "delay" => self.delay_ms = value.and_then(|v| v.parse().ok()),
                "retry_after" => self.retry_after = value.map(str::to_owned),
                other => {
                    let (status, times) = match other.split_once('x') {
                        Some((s, t)) => (s, t.parse().ok()),
                        None => (other, None),
                    };
                    if let Ok(code) = status.parse::<u16>()
                        && (400..600).contains(&code)
                    {
                        self.fail_status = Some(code);
                        self.fail_times = times;
                    }
                }
            }
        }
    }
}

/// Removes the directives from a text (they are not part of what the user "said").
pub fn strip_directives(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[[fake:") {
        out.push_str(&rest[..start]);
        match rest[start..].find("]]") {
            Some(end) => rest = &rest[start + end + 2..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The parts of a chat request the fakes look at, whatever the wire format.
#[derive(Debug, Default)]
pub struct Prompt {
    /// Instructions and every message text, in order.
    pub texts: Vec<String>,
    pub last_user: String,
    pub max_tokens: Option<u64>,
    pub model: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
}

/// Everything needed to write the answer in any wire format.
#[derive(Debug)]
pub struct Plan {
    pub chunks: Vec<String>,
    pub finish: Finish,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub delay: Duration,
    pub cut: bool,
    pub error: bool,
    pub stall: bool,
}

impl Plan {
    pub fn text(&self) -> String {
        self.chunks.concat()
    }
}

fn has_sources(texts: &[String]) -> bool {
    texts
        .iter()
        .any(|t| t.contains("[1]") || t.contains("index=\"1\"") || t.contains("[source 1]"))
}

fn default_reply(prompt: &Prompt) -> String {
    let asked = strip_directives(&prompt.last_user);
    let asked: String = if asked.chars().count() > 160 {
        asked.chars().take(160).collect::<String>() + "…"
    } else {
        asked
    };
    let mut r = format!(
        "You asked: \"{asked}\". This is a scripted answer from the RaGenie fake provider."
    );
    if has_sources(&prompt.texts) {
        r.push_str(" According to the provided sources [1], the answer is in the first document.");
    }
    r
}

fn split_chunks(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

pub fn plan(config: &FakeConfig, prompt: &Prompt, s: &Scenario) -> Plan {
    let mut delay =
        Duration::from_millis(s.delay_ms.unwrap_or(config.chunk_delay.as_millis() as u64));
    let (mut text, chunk) = match s.long {
        Some(n) => {
            delay = delay.max(Duration::from_millis(5));
            let words: String = (0..n).map(|i| format!("word{i} ")).collect();
            (words, s.chunk.unwrap_or(usize::MAX))
        }
        None => (
            config
                .reply
                .clone()
                .unwrap_or_else(|| default_reply(prompt)),
            s.chunk.unwrap_or(config.chunk_size),
        ),
    };
    let mut finish = if s.length {
        Finish::Length
    } else {
        Finish::Stop
    };
    if let Some(max) = prompt.max_tokens
        && count_tokens(&text) > max
    {
        text = text.chars().take((max * 4) as usize).collect();
        finish = Finish::Length;
    }
    let chunks = if s.long.is_some() && s.chunk.is_none() {
        // One word per chunk: many events, as a long real answer has.
        text.split_inclusive(' ').map(str::to_owned).collect()
    } else {
        split_chunks(&text, chunk)
    };
    let input: u64 = prompt.texts.iter().map(|t| count_tokens(t)).sum();
    let (cache_read, cache_write) = if s.cache {
        (input / 2, input / 4)
    } else {
        (0, 0)
    };
    Plan {
        output_tokens: count_tokens(&text),
        chunks,
        finish,
        input_tokens: input,
        cache_read,
        cache_write,
        delay,
        cut: s.cut,
        error: s.error,
        stall: s.stall,
    }
}

/// Whether this attempt must fail, and with which status. "Fail N times" is counted per
/// request fingerprint (provider + body), so a client's retry of the same request succeeds.
pub(crate) fn injected_failure(
    state: &State,
    provider: &str,
    body: &[u8],
    s: &Scenario,
) -> Option<u16> {
    let status = s.fail_status?;
    let Some(times) = s.fail_times else {
        return Some(status);
    };
    let mut h = DefaultHasher::new();
    provider.hash(&mut h);
    body.hash(&mut h);
    let key = h.finish();
    let mut map = state.failures.lock().unwrap_or_else(|p| p.into_inner());
    let served = map.entry(key).or_insert(0);
    if *served < times {
        *served += 1;
        Some(status)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_parse_from_text_and_header() {
        let s = Scenario::parse(
            "hi [[fake:429x2 retry_after=0.5]] and [[fake:cut, chunk=3]]",
            Some("cache"),
        );
        assert_eq!(s.fail_status, Some(429));
        assert_eq!(s.fail_times, Some(2));
        assert_eq!(s.retry_after.as_deref(), Some("0.5"));
        assert!(s.cut && s.cache && !s.error);
        assert_eq!(s.chunk, Some(3));
        assert_eq!(Scenario::parse("[[fake:500]]", None).fail_times, None);
        assert_eq!(
            Scenario::parse("[[fake:200]] [[fake:", None),
            Scenario::default()
        );
    }

    #[test]
    fn directives_are_stripped_from_the_echo() {
        assert_eq!(strip_directives("a [[fake:cut]] b"), "a b");
        assert_eq!(strip_directives("a [[fake:cut"), "a");
    }

    #[test]
    fn the_reply_echoes_the_question_cites_sources_and_respects_max_tokens() {
        let cfg = FakeConfig::default();
        let p = Prompt {
            texts: vec!["Sources:\n[1] doc".into(), "What is X?".into()],
            last_user: "What is X?".into(),
            ..Default::default()
        };
        let plan = plan(&cfg, &p, &Scenario::default());
        let text = plan.text();
        assert!(
            text.contains("What is X?") && text.contains("[1]"),
            "{text}"
        );
        assert_eq!(plan.output_tokens, count_tokens(&text));
        assert_eq!(
            plan.input_tokens,
            count_tokens("Sources:\n[1] doc") + count_tokens("What is X?")
        );
        assert!(
            plan.chunks
                .iter()
                .all(|c| c.chars().count() <= cfg.chunk_size)
        );
        let p = Prompt {
            max_tokens: Some(3),
            ..p
        };
        let short = super::plan(&cfg, &p, &Scenario::default());
        assert_eq!(short.finish, Finish::Length);
        assert_eq!(short.text().chars().count(), 12);
    }
}
