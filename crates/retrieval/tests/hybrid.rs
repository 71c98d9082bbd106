//! Hybrid search: BM25 fused with embedding similarity by reciprocal rank fusion.

use std::collections::HashSet;
use std::sync::Arc;

use ragenie_retrieval::{
    ChunkConfig, Hit, QueryVector, SearchOptions, Segment, SegmentSet, chunk_text,
};

/// A toy embedding: one dimension per concept, so synonyms land on the same axis — what a real
/// embedding model does and BM25 cannot.
const CONCEPTS: [&[&str]; 4] = [
    &["car", "automobile", "vehicle"],
    &["doctor", "physician"],
    &["fruit", "banana", "apple"],
    &["ocean", "sea"],
];

fn embed(text: &str) -> Vec<f32> {
    let lower = text.to_lowercase();
    let mut vector: Vec<f32> = CONCEPTS
        .iter()
        .map(|words| words.iter().map(|w| lower.matches(w).count() as f32).sum())
        .collect();
    vector.push(0.01); // never the zero vector
    vector
}

fn segment(doc: &str, text: &str, model: Option<&str>) -> Arc<Segment> {
    let chunks = chunk_text(text, &ChunkConfig::default());
    let mut segment = Segment::build(doc, 1, doc, &chunks);
    if let Some(model) = model {
        let vectors: Vec<Vec<f32>> = chunks.iter().map(|c| embed(&c.text)).collect();
        segment.attach_vectors(model, &vectors).unwrap();
    }
    Arc::new(segment)
}

fn library(model: Option<&str>) -> SegmentSet {
    SegmentSet::new(vec![
        segment(
            "garage",
            "Servicing an automobile every spring keeps it running.",
            model,
        ),
        segment("clinic", "The physician sees patients on Tuesdays.", model),
        segment(
            "market",
            "Bananas are sold by the bunch at the market.",
            model,
        ),
        segment(
            "harbour",
            "Boats leave the harbour for the sea at dawn.",
            model,
        ),
    ])
}

fn docs(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.doc_id.as_str()).collect()
}

/// Searches `query` with its toy embedding, presented as made by `model`.
fn hybrid(set: &SegmentSet, query: &str, model: &str, options: &SearchOptions) -> Vec<Hit> {
    let vector = embed(query);
    set.hybrid_search(
        query,
        Some(QueryVector {
            model,
            vector: &vector,
        }),
        options,
    )
}

#[test]
fn an_embedded_query_finds_a_synonym_that_bm25_alone_misses() {
    let set = library(Some("toy"));
    let options = SearchOptions::default();
    assert!(set.search("car", &options).is_empty());
    let hits = hybrid(&set, "car", "toy", &options);
    assert_eq!(docs(&hits)[0], "garage");
    let hit = &hits[0];
    assert!(hit.text.contains("automobile"));
    assert!(hit.score > 0.0);
    assert_eq!((hit.start, hit.chunk), (0, 0));
}

#[test]
fn fusion_ranks_first_the_chunk_both_rankings_like() {
    let set = SegmentSet::new(vec![
        // BM25's favourite (the word twice), but mostly about cars.
        segment("lexical", "sea charts sea car car car", Some("toy")),
        // Second for BM25, first by meaning.
        segment("both", "the sea by the ocean", Some("toy")),
        // Invisible to BM25; close in meaning.
        segment("semantic", "ocean waves and a car", Some("toy")),
    ]);
    let lexical = set.search("sea", &SearchOptions::default());
    assert_eq!(docs(&lexical), vec!["lexical", "both"]);
    let hits = hybrid(&set, "sea", "toy", &SearchOptions::default());
    assert_eq!(docs(&hits), vec!["both", "lexical", "semantic"]);
    assert!(hits.windows(2).all(|w| w[0].score > w[1].score));
}

#[test]
fn vectors_of_another_model_or_outside_the_scope_are_not_compared() {
    let set = library(Some("old-model"));
    let other_model = hybrid(&set, "car", "new-model", &SearchOptions::default());
    assert!(other_model.is_empty());

    let set = library(Some("toy"));
    let scoped = SearchOptions {
        doc_ids: Some(std::sync::Arc::new(HashSet::from([
            "clinic".to_owned(),
            "market".to_owned(),
        ]))),
        ..SearchOptions::default()
    };
    let hits = hybrid(&set, "car", "toy", &scoped);
    assert!(
        hits.iter()
            .all(|h| h.doc_id == "clinic" || h.doc_id == "market"),
        "{:?}",
        docs(&hits)
    );
}

#[test]
fn without_vectors_hybrid_search_is_exactly_bm25() {
    let set = library(None);
    let fused = hybrid(&set, "physician patients", "toy", &SearchOptions::default());
    let lexical = set.search("physician patients", &SearchOptions::default());
    assert_eq!(docs(&fused), docs(&lexical));
    assert_eq!(docs(&lexical), vec!["clinic"]);
}

#[test]
fn a_query_of_stop_words_still_ranks_by_meaning() {
    let set = library(Some("toy"));
    let mut vector = embed("doctor");
    vector[0] = 0.0;
    let hits = set.hybrid_search(
        "the of and",
        Some(QueryVector {
            model: "toy",
            vector: &vector,
        }),
        &SearchOptions::default(),
    );
    assert_eq!(docs(&hits)[0], "clinic");
}

#[test]
fn hybrid_hits_survive_compaction() {
    let parts: Vec<Segment> = library(Some("toy"))
        .segments()
        .iter()
        .map(|s| (**s).clone())
        .collect();
    let merged = SegmentSet::new(vec![Arc::new(Segment::merge(&parts))]);
    let options = SearchOptions::default();
    let hits = hybrid(&merged, "fruit", "toy", &options);
    assert_eq!(docs(&hits)[0], "market");
    assert_eq!(
        docs(&hits),
        docs(&hybrid(&library(Some("toy")), "fruit", "toy", &options))
    );
}
