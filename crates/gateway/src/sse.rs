//! Incremental Server-Sent Events parser (WHATWG rules) fed with arbitrary network chunks.
//!
//! Bytes are buffered until a line ends, so an event, a line or a multi-byte UTF-8 character
//! may be split anywhere. Lines end with LF, CRLF or CR (a CR at the end of a chunk is
//! resolved when the next chunk starts). Comments (`:` lines, used as keep-alives) are
//! skipped; `data:` lines of one event are joined with `\n`.

use crate::GatewayError;

/// Longest line accepted before the stream is declared broken (a guard against a provider
/// that never sends a newline).
const MAX_LINE: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if any (Anthropic names every event; OpenAI and Gemini do not).
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
}

#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Where to resume looking for a line end in `buf`.
    scan: usize,
    /// The previous chunk ended with CR: a LF starting the next one belongs to it.
    skip_lf: bool,
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, GatewayError> {
        let mut out = Vec::new();
        let mut chunk = chunk;
        if self.skip_lf && !chunk.is_empty() {
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
            self.skip_lf = false;
        }
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        let mut i = self.scan;
        while i < self.buf.len() {
            let b = self.buf[i];
            if b == b'\n' || b == b'\r' {
                let line_end = i;
                let mut next = i + 1;
                if b == b'\r' {
                    if next < self.buf.len() {
                        if self.buf[next] == b'\n' {
                            next += 1;
                        }
                    } else {
                        self.skip_lf = true;
                    }
                }
                let line = String::from_utf8_lossy(&self.buf[start..line_end]).into_owned();
                self.line(&line, &mut out);
                start = next;
                i = next;
            } else {
                i += 1;
            }
        }
        self.buf.drain(..start);
        self.scan = self.buf.len();
        if self.buf.len() > MAX_LINE {
            return Err(GatewayError::Protocol(format!(
                "an event stream line exceeded {MAX_LINE} bytes"
            )));
        }
        Ok(out)
    }

    /// Call at end of stream: a last line without its newline, and an event without its
    /// closing blank line, are still delivered (some servers end that way).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let line = String::from_utf8_lossy(&rest).into_owned();
            self.line(&line, &mut out);
        }
        self.scan = 0;
        self.dispatch(&mut out);
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        let line = if !self.started {
            self.started = true;
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.find(':') {
            Some(p) => {
                let v = &line[p + 1..];
                (&line[..p], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data),
                id: self.id.clone(),
            });
        }
        self.event = None;
        self.data.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &[u8], sizes: &[usize]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        while pos < input.len() {
            let n = sizes[k % sizes.len()].max(1).min(input.len() - pos);
            out.extend(p.push(&input[pos..pos + n]).unwrap());
            pos += n;
            k += 1;
        }
        out.extend(p.finish());
        out
    }

    fn whole(input: &[u8]) -> Vec<SseEvent> {
        parse_in_pieces(input, &[input.len().max(1)])
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
            id: None,
        }
    }

    const OPENAI: &str =
        "data: {\"a\":1}\n\ndata: {\"b\":\"é✓\"}\n\n: keep-alive\n\ndata: [DONE]\n\n";

    #[test]
    fn parses_openai_style_events_and_done() {
        let got = whole(OPENAI.as_bytes());
        assert_eq!(
            got,
            vec![
                ev(None, "{\"a\":1}"),
                ev(None, "{\"b\":\"é✓\"}"),
                ev(None, "[DONE]")
            ]
        );
    }

    #[test]
    fn every_byte_split_gives_the_same_events() {
        let samples: [&str; 4] = [
            OPENAI,
            "event: message_start\ndata: {\"x\":1}\n\nevent: ping\ndata: {}\n\n",
            "data: {\"t\":\"日本語\"}\r\n\r\ndata: {\"t\":\"x\"}\r\n\r\n",
            "data: line1\ndata: line2\r\ndata: line3\r\rdata:nospace\n\n",
        ];
        for s in samples {
            let reference = whole(s.as_bytes());
            assert!(!reference.is_empty());
            for size in 1..=7 {
                assert_eq!(
                    parse_in_pieces(s.as_bytes(), &[size]),
                    reference,
                    "size {size} on {s:?}"
                );
            }
            assert_eq!(parse_in_pieces(s.as_bytes(), &[1, 3, 2, 5]), reference);
            // Every single split point.
            for cut in 1..s.len() {
                let mut p = SseParser::new();
                let mut got = p.push(&s.as_bytes()[..cut]).unwrap();
                got.extend(p.push(&s.as_bytes()[cut..]).unwrap());
                got.extend(p.finish());
                assert_eq!(got, reference, "cut at {cut} of {s:?}");
            }
        }
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let got = whole(b"data: line1\ndata: line2\r\ndata: line3\r\rdata:nospace\n\n");
        assert_eq!(
            got,
            vec![ev(None, "line1\nline2\nline3"), ev(None, "nospace")]
        );
    }

    #[test]
    fn crlf_events_from_gemini_parse() {
        let got = whole(b"data: {\"t\":\"a\"}\r\n\r\ndata: {\"t\":\"b\"}\r\n\r\n");
        assert_eq!(
            got,
            vec![ev(None, "{\"t\":\"a\"}"), ev(None, "{\"t\":\"b\"}")]
        );
    }

    #[test]
    fn cr_at_chunk_end_followed_by_lf_is_one_line_end() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: a\r").unwrap().is_empty());
        // The LF completes the CR; the next CRLF is the blank line.
        assert_eq!(p.push(b"\n\r\n").unwrap(), vec![ev(None, "a")]);
    }

    #[test]
    fn comments_and_keep_alives_are_ignored() {
        let got = whole(b": ping\n\n:\n\ndata: x\n: inside\n\n");
        assert_eq!(got, vec![ev(None, "x")]);
    }

    #[test]
    fn event_names_and_ids_are_kept_and_reset() {
        let got = whole(b"event: a\nid: 7\ndata: 1\n\ndata: 2\n\n");
        assert_eq!(got[0].event.as_deref(), Some("a"));
        assert_eq!(got[0].id.as_deref(), Some("7"));
        assert_eq!(got[1].event, None);
        assert_eq!(
            got[1].id.as_deref(),
            Some("7"),
            "the last event id persists per spec"
        );
    }

    #[test]
    fn an_event_without_data_is_not_dispatched() {
        assert!(whole(b"event: ping\n\n\n\nretry: 100\n\n").is_empty());
    }

    #[test]
    fn empty_data_is_dispatched() {
        assert_eq!(
            whole(b"data\n\ndata:\n\n"),
            vec![ev(None, ""), ev(None, "")]
        );
    }

    #[test]
    fn a_leading_bom_is_stripped() {
        assert_eq!(whole("\u{feff}data: x\n\n".as_bytes()), vec![ev(None, "x")]);
    }

    #[test]
    fn the_last_event_without_a_blank_line_is_delivered_at_eof() {
        assert_eq!(
            whole(b"data: a\n\ndata: [DONE]"),
            vec![ev(None, "a"), ev(None, "[DONE]")]
        );
        assert_eq!(whole(b"data: [DONE]\n"), vec![ev(None, "[DONE]")]);
    }

    #[test]
    fn a_multibyte_character_split_across_chunks_survives() {
        let s = "data: ✓✓✓\n\n".as_bytes();
        assert_eq!(parse_in_pieces(s, &[1]), vec![ev(None, "✓✓✓")]);
    }

    #[test]
    fn invalid_utf8_does_not_panic() {
        let got = whole(b"data: \xff\xfe\n\n");
        assert_eq!(got.len(), 1);
        assert!(got[0].data.contains('\u{fffd}'));
    }

    #[test]
    fn a_field_without_colon_and_unknown_fields_are_handled() {
        assert_eq!(whole(b"foo: bar\ndata: x\nbaz\n\n"), vec![ev(None, "x")]);
    }

    #[test]
    fn only_one_leading_space_is_stripped() {
        assert_eq!(whole(b"data:  two\n\n"), vec![ev(None, " two")]);
    }

    #[test]
    fn the_buffer_does_not_grow_with_consumed_lines() {
        let mut p = SseParser::new();
        for _ in 0..10_000 {
            p.push(b"data: x\n\n").unwrap();
        }
        assert!(p.buf.is_empty());
    }
}
