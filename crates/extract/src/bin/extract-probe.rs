//! `extract-probe FILE…`: extracts each file (media type from its extension) the way a server
//! does — through the sandbox — and prints one JSON line per file, then `alive`. Used by the
//! hostile-file suite against a release build.

fn media_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("pdf") => ragenie_extract::PDF,
        Some("html" | "htm") => ragenie_extract::HTML,
        Some("md") => ragenie_extract::MARKDOWN,
        _ => ragenie_extract::PLAIN_TEXT,
    }
}

fn main() {
    ragenie_extract::sandbox::init();
    for path in std::env::args().skip(1) {
        let line = match std::fs::read(&path) {
            Err(e) => {
                serde_json::json!({"file": path, "ok": false, "reason": format!("unreadable: {e}")})
            }
            Ok(bytes) => match ragenie_extract::extract(media_type(&path), &bytes) {
                Ok(extracted) => {
                    serde_json::json!({"file": path, "ok": true, "chars": extracted.text.len()})
                }
                Err(e) => serde_json::json!({"file": path, "ok": false, "reason": e.to_string()}),
            },
        };
        println!("{line}");
    }
    println!("alive sandboxed={}", ragenie_extract::sandbox::enabled());
}
