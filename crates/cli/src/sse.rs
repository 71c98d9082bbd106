//! An incremental Server-Sent Events parser: bytes go in as the network delivers them (an event,
//! a line or even a UTF-8 character may be split across chunks), whole events come out.

use serde_json::Value;

/// One event: its name (`message` when the stream names none) and its data, parsed as JSON
/// when it is JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct SseEvent {
    pub name: String,
    pub data: Value,
}

#[derive(Default)]
pub struct SseParser {
    pending: Vec<u8>,
    name: Option<String>,
    data: Vec<String>,
}

impl SseParser {
    /// Feeds bytes; returns the events they complete.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        events
    }

    /// The event still being assembled when the stream ends without a blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.pending.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned();
            if let Some(event) = self.line(rest.trim_end_matches('\r')) {
                return Some(event);
            }
        }
        self.line("")
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            if self.data.is_empty() && self.name.is_none() {
                return None;
            }
            let data = std::mem::take(&mut self.data).join("\n");
            let name = self.name.take().unwrap_or_else(|| "message".into());
            let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
            return Some(SseEvent { name, data });
        }
        if line.starts_with(':') {
            return None; // a keep-alive comment
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STREAM: &str = "event: meta\ndata: {\"model\":\"m\"}\n\n: keep-alive\n\nevent: delta\r\ndata: {\"text\":\"h\u{e9}llo\"}\r\n\r\nevent: done\ndata: {\"finish_reason\":\"stop\"}\n\n";

    #[test]
    fn events_survive_any_split_of_the_bytes() {
        let bytes = STREAM.as_bytes();
        let whole = SseParser::default().push(bytes);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[1].data, json!({"text": "h\u{e9}llo"}));
        for split in 1..bytes.len() {
            let mut parser = SseParser::default();
            let mut events = parser.push(&bytes[..split]);
            events.extend(parser.push(&bytes[split..]));
            assert_eq!(events, whole, "split at {split}");
        }
    }

    #[test]
    fn multi_line_data_and_an_unterminated_last_event() {
        let mut parser = SseParser::default();
        let events =
            parser.push(b"data: one\ndata: two\n\nevent: error\ndata: {\"message\":\"x\"}");
        assert_eq!(events[0].name, "message");
        assert_eq!(events[0].data, Value::String("one\ntwo".into()));
        let last = parser.finish().unwrap();
        assert_eq!(
            (last.name.as_str(), &last.data),
            ("error", &json!({"message": "x"}))
        );
    }
}
