//! Hostile uploads: a decompression bomb, a deeply nested PDF, a truncated PDF and a 64 MB
//! HTML file each end with a reason, and the process that extracts them lives on.
//!
//! The shipped binaries abort on panic, so the proof that counts runs against a build with the
//! release profile's panic strategy (the `extract-probe` profile inherits it and skips the
//! size optimisations): `extract-probe`, built once into `target/extract-release`
//! (its own target directory, so it neither waits for nor invalidates the workspace build),
//! extracts every file through the sandbox, as the documents function does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use lopdf::{Object, Stream, dictionary};
use ragenie_extract::testing::OnePagePdf;

/// A one-page PDF whose page content is `content` (Flate-compressed when asked).
fn pdf(content: &[u8], compress: bool) -> Vec<u8> {
    let stream = if compress {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(content).unwrap();
        Stream::new(
            dictionary! { "Filter" => "FlateDecode" },
            z.finish().unwrap(),
        )
    } else {
        Stream::new(dictionary! {}, content.to_vec())
    };
    OnePagePdf::new().bytes(stream)
}

fn healthy_pdf() -> Vec<u8> {
    pdf(
        b"BT /F1 12 Tf 72 720 Td (Hello from a healthy file) Tj ET",
        false,
    )
}

/// A page content stream of 300 MB of spaces, deflated to a few hundred kilobytes.
fn decompression_bomb() -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![b' '; 1 << 20];
    for _ in 0..300 {
        z.write_all(&block).unwrap();
    }
    let compressed = z.finish().unwrap();
    let mut doc = lopdf::Document::load_mem(&healthy_pdf()).unwrap();
    let page = *doc.get_pages().values().next().unwrap();
    let contents = doc
        .get_dictionary(page)
        .unwrap()
        .get(b"Contents")
        .unwrap()
        .as_reference()
        .unwrap();
    doc.objects.insert(
        contents,
        Object::Stream(Stream::new(
            dictionary! { "Filter" => "FlateDecode" },
            compressed,
        )),
    );
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// A hand-written PDF (correct cross-reference table) whose page holds an array nested
/// `depth` deep: a recursive parser runs out of stack on it.
fn deeply_nested_pdf(depth: usize) -> Vec<u8> {
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Nested {nested} >>"),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn truncated_pdf() -> Vec<u8> {
    let whole = healthy_pdf();
    whole[..whole.len() * 6 / 10].to_vec()
}

fn big_html(bytes: usize) -> Vec<u8> {
    let para = b"<p>All work and no play makes a very large page indeed.</p>\n";
    let mut out = b"<!doctype html><html><body>".to_vec();
    while out.len() < bytes {
        out.extend_from_slice(para);
    }
    out.extend_from_slice(b"</body></html>");
    out
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// Builds `extract-probe` with the `extract-probe` profile: the release profile (as shipped:
/// `panic = "abort"`) without its slow size optimisations.
fn release_probe() -> PathBuf {
    let root = workspace_root();
    let target = root.join("target").join("extract-release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--profile",
            "extract-probe",
            "--quiet",
            "-p",
            "ragenie-extract",
            "--bin",
            "extract-probe",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo build");
    assert!(status.success(), "building extract-probe in release failed");
    target.join("extract-probe").join("extract-probe")
}

#[test]
fn the_release_build_survives_hostile_files_and_fails_each_with_a_reason() {
    let profile = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let release = profile
        .split("[profile.release]")
        .nth(1)
        .and_then(|s| s.split("\n[").next())
        .unwrap();
    assert!(
        release.contains("panic = \"abort\""),
        "this suite proves the sandbox under the shipped abort-on-panic profile"
    );
    let probe_profile = profile
        .split("[profile.extract-probe]")
        .nth(1)
        .and_then(|s| s.split("\n[").next())
        .unwrap();
    assert!(
        probe_profile.contains("inherits = \"release\"") && !probe_profile.contains("panic"),
        "the probe inherits the shipped panic strategy: {probe_profile}"
    );

    let dir = tempfile::tempdir().unwrap();
    let files: [(&str, Vec<u8>); 5] = [
        ("healthy.pdf", healthy_pdf()),
        ("bomb.pdf", decompression_bomb()),
        ("nested.pdf", deeply_nested_pdf(2_000_000)),
        ("truncated.pdf", truncated_pdf()),
        ("huge.html", big_html(64 * 1024 * 1024)),
    ];
    let mut paths = Vec::new();
    for (name, bytes) in &files {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        paths.push(path);
    }

    let probe = release_probe();
    let output = Command::new(&probe).args(&paths).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(output.status.success(), "the probe died: {output:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"alive sandboxed=true"),
        "the process lives and extracted through the sandbox"
    );
    let outcome = |name: &str| -> serde_json::Value {
        lines
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["file"].as_str().is_some_and(|f| f.ends_with(name)))
            .unwrap_or_else(|| panic!("no outcome for {name}: {stdout}"))
    };
    assert_eq!(outcome("healthy.pdf")["ok"], true, "{stdout}");
    for name in ["bomb.pdf", "nested.pdf", "truncated.pdf", "huge.html"] {
        let o = outcome(name);
        assert_eq!(o["ok"], false, "{name}: {o}");
        assert!(
            o["reason"].as_str().is_some_and(|r| r.len() > 10),
            "{name} fails with a reason: {o}"
        );
    }
    assert!(
        outcome("bomb.pdf")["reason"]
            .as_str()
            .unwrap()
            .contains("inflate"),
        "{stdout}"
    );
    assert!(
        outcome("huge.html")["reason"]
            .as_str()
            .unwrap()
            .contains("too large"),
        "{stdout}"
    );
}

/// Without the sandbox (tests, tools) the caps still hold in-process for what can be checked
/// there safely.
#[test]
fn caps_hold_in_process_too() {
    let bomb = ragenie_extract::extract_here("application/pdf", &decompression_bomb()).unwrap_err();
    assert!(bomb.to_string().contains("inflate"), "{bomb}");
    let html = ragenie_extract::extract_here("text/html", &big_html(17 * 1024 * 1024)).unwrap_err();
    assert!(
        matches!(html, ragenie_extract::ExtractError::TooLarge(_)),
        "{html}"
    );
    let cut = ragenie_extract::extract_here("application/pdf", &truncated_pdf()).unwrap_err();
    assert!(!cut.to_string().is_empty());
    let ok = ragenie_extract::extract_here("application/pdf", &healthy_pdf()).unwrap();
    assert!(ok.text.contains("healthy"), "{}", ok.text);
}
