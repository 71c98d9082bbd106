//! End-to-end tests of the library as the documents service uses it: bytes in, segments
//! stored as bytes, searches over sets of segments.

use std::collections::HashSet;
use std::sync::Arc;

use lopdf::{Document, EncryptionState, EncryptionVersion, Object, Permissions};
use ragenie_extract::testing::OnePagePdf;
use ragenie_retrieval::{
    ChunkConfig, ExtractError, Hit, SearchOptions, Segment, SegmentSet, extract, index_document,
    sniff_media_type,
};

/// A one-page PDF whose page shows `lines`, with a file identifier (encryption needs one).
fn pdf_document(lines: &[&str]) -> Document {
    let mut doc = OnePagePdf::new().document(OnePagePdf::text(lines));
    doc.trailer.set(
        "ID",
        Object::Array(vec![
            Object::string_literal(b"0123456789abcdef".to_vec()),
            Object::string_literal(b"0123456789abcdef".to_vec()),
        ]),
    );
    doc
}

fn save(mut doc: Document) -> Vec<u8> {
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}

fn encrypted_pdf(user_password: &str) -> Vec<u8> {
    let mut doc = pdf_document(&["Top secret quarterly figures"]);
    let state = EncryptionState::try_from(EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner",
        user_password,
        key_length: 128,
        permissions: Permissions::all(),
    })
    .unwrap();
    doc.encrypt(&state).unwrap();
    save(doc)
}

#[test]
fn a_pdf_yields_its_text() {
    let bytes = save(pdf_document(&[
        "Quarterly report",
        "Revenue grew by nine percent",
    ]));
    assert_eq!(sniff_media_type("report.bin", &bytes), "application/pdf");
    let got = extract("application/pdf", &bytes).unwrap();
    assert!(got.text.contains("Quarterly report"), "{:?}", got.text);
    assert!(
        got.text.contains("Revenue grew by nine percent"),
        "{:?}",
        got.text
    );
}

#[test]
fn a_pdf_locked_with_a_user_password_is_encrypted() {
    assert_eq!(
        extract("application/pdf", &encrypted_pdf("s3cret")).unwrap_err(),
        ExtractError::Encrypted
    );
}

#[test]
fn a_pdf_encrypted_with_an_empty_user_password_opens_like_any_viewer_would() {
    let got = extract("application/pdf", &encrypted_pdf("")).unwrap();
    assert!(
        got.text.contains("Top secret quarterly figures"),
        "{:?}",
        got.text
    );
}

#[test]
fn truncated_or_damaged_pdfs_are_corrupt_and_never_panic() {
    let bytes = save(pdf_document(&["Some text worth reading"]));
    for cut in [10, bytes.len() / 3, bytes.len() / 2, bytes.len() - 40] {
        match extract("application/pdf", &bytes[..cut]) {
            Err(ExtractError::Corrupt(_) | ExtractError::Empty) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // Flip bytes through the body: any outcome but a panic is acceptable.
    for i in (0..bytes.len()).step_by(37) {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0xff;
        let _ = extract("application/pdf", &damaged);
    }
}

#[test]
fn unsupported_types_and_empty_files_are_rejected_with_a_reason() {
    match extract("application/vnd.ms-excel", b"data") {
        Err(ExtractError::Unsupported { accepted }) => {
            assert!(accepted.contains(&"text/markdown") && accepted.contains(&"application/pdf"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        extract("application/pdf", b"").unwrap_err(),
        ExtractError::Empty
    );
    assert_eq!(
        extract("text/markdown", b"").unwrap_err(),
        ExtractError::Empty
    );
}

const DOCS: [(&str, &str, &str); 8] = [
    (
        "cats",
        "Caring for cats",
        "# Feeding\n\nCats are obligate carnivores and need taurine in their food.\n\n# Grooming\n\nLong-haired cats need brushing every day to avoid mats.",
    ),
    (
        "dogs",
        "Dog training",
        "Positive reinforcement works best when training dogs. Reward the dog immediately after it sits.",
    ),
    (
        "rust",
        "The Rust borrow checker",
        "The borrow checker enforces that references never outlive the data they point to, and that mutable references are exclusive.",
    ),
    (
        "tax",
        "Filing taxes",
        "Self-employed people pay estimated taxes quarterly. Keep receipts for deductible business expenses.",
    ),
    (
        "bread",
        "Baking sourdough bread",
        "A sourdough starter is a culture of wild yeast and lactic acid bacteria. Feed the starter flour and water daily.",
    ),
    (
        "volcano",
        "Volcanoes",
        "Magma that reaches the surface is called lava. Stratovolcanoes erupt explosively because their magma is viscous.",
    ),
    (
        "heart",
        "The human heart",
        "The heart pumps blood through the circulatory system. The left ventricle pumps oxygenated blood to the body.",
    ),
    (
        "garden",
        "Vegetable gardening",
        "Tomatoes need full sun and regular watering. Rotate crops each year to keep the soil healthy.",
    ),
];

/// Each document indexed as its own segment, stored as bytes and read back.
fn stored_segments() -> Vec<Arc<Segment>> {
    DOCS.iter()
        .map(|(id, title, body)| {
            let indexed = index_document(
                id,
                1,
                title,
                "text/markdown",
                body.as_bytes(),
                &ChunkConfig::default(),
            )
            .unwrap();
            Arc::new(Segment::from_bytes(&indexed.segment.to_bytes()).unwrap())
        })
        .collect()
}

fn top_doc(set: &SegmentSet, query: &str) -> Option<String> {
    set.search(query, &SearchOptions::default())
        .first()
        .map(|h| h.doc_id.clone())
}

#[test]
fn quality_smoke_test_each_query_finds_its_document_first() {
    let set = SegmentSet::new(stored_segments());
    let cases = [
        ("what should I feed my cat", "cats"),
        ("how to train a dog to sit", "dogs"),
        ("mutable references exclusive borrowing", "rust"),
        ("quarterly estimated tax payments", "tax"),
        ("wild yeast starter", "bread"),
        ("why do volcanoes erupt explosively", "volcano"),
        ("oxygenated blood ventricle", "heart"),
        ("growing tomatoes in the sun", "garden"),
        ("brushing long haired pets", "cats"),
    ];
    for (query, expected) in cases {
        assert_eq!(
            top_doc(&set, query).as_deref(),
            Some(expected),
            "query {query:?}"
        );
    }
    assert!(
        set.search("quantum chromodynamics", &SearchOptions::default())
            .is_empty()
    );
    assert!(
        set.search("the of and", &SearchOptions::default())
            .is_empty()
    );
}

#[test]
fn hits_carry_heading_path_offsets_and_a_highlighted_snippet() {
    let set = SegmentSet::new(stored_segments());
    let hits = set.search("brushing mats", &SearchOptions::default());
    let hit = &hits[0];
    assert_eq!(
        (hit.doc_id.as_str(), hit.version, hit.chunk),
        ("cats", 1, 1)
    );
    assert_eq!(hit.heading_path, vec!["Grooming"]);
    assert_eq!(hit.title, "Caring for cats");
    let body = DOCS[0].2;
    let slice: String = body
        .chars()
        .skip(hit.start as usize)
        .take((hit.end - hit.start) as usize)
        .collect();
    assert_eq!(slice, hit.text);
    assert_eq!(
        hit.snippet,
        "Long-haired cats need <mark>brushing</mark> every day to avoid <mark>mats</mark>."
    );
    assert!(hit.score > 0.0);
}

fn ranking(hits: &[Hit]) -> Vec<(String, u64, u32, u32)> {
    // Scores compared to 1e-4 relative: identical statistics give identical floats, but the
    // comparison should not depend on that detail.
    hits.iter()
        .map(|h| {
            (
                h.doc_id.clone(),
                h.version,
                h.chunk,
                (h.score * 1e4).round() as u32,
            )
        })
        .collect()
}

#[test]
fn searching_merged_plus_newer_segments_ranks_exactly_like_the_originals() {
    let segments = stored_segments();
    let (old, newer) = segments.split_at(5);
    let merged = Segment::merge(&old.iter().map(|s| (**s).clone()).collect::<Vec<_>>());
    assert_eq!(merged.covers().count(), 5);
    let merged = Segment::from_bytes(&merged.to_bytes()).unwrap();
    let mut compacted = vec![Arc::new(merged)];
    compacted.extend(newer.iter().cloned());

    let original = SegmentSet::new(segments.clone());
    let compacted = SegmentSet::new(compacted);
    let options = SearchOptions {
        k: 20,
        ..SearchOptions::default()
    };
    for query in [
        "cats food",
        "blood heart pumps",
        "the starter needs flour and water",
        "references data",
        "soil sun watering receipts lava",
    ] {
        let a = original.search(query, &options);
        let b = compacted.search(query, &options);
        assert!(!a.is_empty(), "{query}");
        assert_eq!(ranking(&a), ranking(&b), "{query}");
        assert_eq!(a, b, "{query}");
    }
}

#[test]
fn a_newer_version_in_a_later_segment_shadows_the_merged_one() {
    let segments = stored_segments();
    let merged = Arc::new(Segment::merge(
        &segments.iter().map(|s| (**s).clone()).collect::<Vec<_>>(),
    ));
    let v2 = index_document(
        "garden",
        2,
        "Vegetable gardening",
        "text/plain",
        b"Zucchini plants sprawl; give them space.",
        &ChunkConfig::default(),
    )
    .unwrap()
    .segment;
    let set = SegmentSet::new(vec![merged.clone(), Arc::new(v2)]);
    assert!(set.search("tomatoes", &SearchOptions::default()).is_empty());
    let hits = set.search("zucchini", &SearchOptions::default());
    assert_eq!((hits[0].doc_id.as_str(), hits[0].version), ("garden", 2));
    // The original per-document segment next to the merged one is not counted twice.
    let doubled = SegmentSet::new(vec![merged, segments[0].clone()]);
    assert_eq!(
        doubled.chunk_count(),
        SegmentSet::new(segments).chunk_count()
    );
}

#[test]
fn restricting_to_some_documents_searches_only_them_with_their_own_statistics() {
    let segments = stored_segments();
    let all = SegmentSet::new(segments.clone());
    let only: HashSet<String> = ["cats", "dogs"].into_iter().map(String::from).collect();
    let options = SearchOptions {
        doc_ids: Some(std::sync::Arc::new(only.clone())),
        ..SearchOptions::default()
    };
    let hits = all.search("training cats and dogs", &options);
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| only.contains(&h.doc_id)));
    // Same result as a set that holds only those documents.
    let subset: Vec<Arc<Segment>> = segments
        .iter()
        .filter(|s| s.covers().any(|(id, _)| only.contains(id)))
        .cloned()
        .collect();
    let alone = SegmentSet::new(subset).search("training cats and dogs", &SearchOptions::default());
    assert_eq!(hits, alone);
}

#[test]
fn at_most_n_chunks_per_document_when_asked() {
    let set = SegmentSet::new(stored_segments());
    let query = "cats need food brushing";
    let all = set.search(query, &SearchOptions::default());
    assert_eq!(all.iter().filter(|h| h.doc_id == "cats").count(), 2);
    let one = set.search(
        query,
        &SearchOptions {
            max_chunks_per_doc: Some(1),
            ..SearchOptions::default()
        },
    );
    assert_eq!(one.iter().filter(|h| h.doc_id == "cats").count(), 1);
}
