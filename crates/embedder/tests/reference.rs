//! The built-in embedder computes what sentence-transformers computes: its vectors for a fixed
//! set of sentences match the reference vectors stored in `fixtures/` (made once by
//! `scripts/reference-embeddings.py` with sentence-transformers on torch) to cosine ≥ 0.999.

use ragenie_embedder::LocalEmbedder;
use ragenie_embedder::testing::minilm_dir;
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    sentences: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

fn reference() -> Reference {
    serde_json::from_str(include_str!("fixtures/all-MiniLM-L6-v2.json")).unwrap()
}

#[test]
fn vectors_match_sentence_transformers() {
    let Some(dir) = minilm_dir() else { return };
    let model = LocalEmbedder::load("all-MiniLM-L6-v2", &dir).unwrap();
    assert_eq!(model.dimensions(), 384);
    let reference = reference();
    let vectors = model.embed(&reference.sentences).unwrap();
    assert_eq!(vectors.len(), reference.sentences.len());
    let worst = vectors
        .iter()
        .zip(&reference.vectors)
        .map(|(got, want)| cosine(got, want))
        .fold(1.0f32, f32::min);
    eprintln!("lowest cosine against sentence-transformers: {worst:.6}");
    for ((sentence, got), want) in reference
        .sentences
        .iter()
        .zip(&vectors)
        .zip(&reference.vectors)
    {
        assert_eq!(got.len(), 384);
        let similarity = cosine(got, want);
        assert!(similarity >= 0.999, "cosine {similarity} for {sentence:?}");
        let norm = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
    }
}

#[test]
fn a_text_embeds_the_same_alone_and_in_a_batch_of_longer_texts() {
    let Some(dir) = minilm_dir() else { return };
    let model = LocalEmbedder::load("all-MiniLM-L6-v2", &dir).unwrap();
    let reference = reference();
    let alone = model.embed(&reference.sentences[..1]).unwrap();
    let batched = model.embed(&reference.sentences).unwrap();
    assert!(
        cosine(&alone[0], &batched[0]) > 0.99999,
        "padding changed the vector"
    );
    assert!(model.embed(&[]).unwrap().is_empty());
}

#[test]
fn synonyms_are_closer_than_unrelated_sentences() {
    let Some(dir) = minilm_dir() else { return };
    let model = LocalEmbedder::load("all-MiniLM-L6-v2", &dir).unwrap();
    let v = model
        .embed(&[
            "The cat sits on the mat.".into(),
            "A feline is resting on a rug.".into(),
            "Quarterly revenue grew by ten percent.".into(),
        ])
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
}

#[test]
fn a_folder_without_weights_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("config.json"), "{}").unwrap();
    let err = LocalEmbedder::load("x", dir)
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("config.json"), "{err}");
    let err = LocalEmbedder::load("x", &dir.join("missing"))
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("cannot read"), "{err}");
}
