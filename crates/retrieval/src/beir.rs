//! BEIR-layout evaluation folders (corpus.jsonl, queries.jsonl, qrels/*.tsv): loading, the
//! upload path for every record, and nDCG/recall/MRR. Used by the retrieval benchmarks.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::{Chunk, ChunkConfig, Segment, index_document};

#[derive(Deserialize)]
pub struct CorpusRecord {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub text: String,
}

#[derive(Deserialize)]
struct QueryRecord {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

/// A BEIR folder's corpus and queries (query id → text).
pub struct Dataset {
    pub corpus: Vec<CorpusRecord>,
    pub queries: HashMap<String, String>,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut records = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        records.push(
            serde_json::from_str(&line)
                .with_context(|| format!("{} line {}", path.display(), n + 1))?,
        );
    }
    Ok(records)
}

pub fn load(dir: &Path) -> Result<Dataset> {
    let corpus = read_jsonl(&dir.join("corpus.jsonl"))?;
    let queries = read_jsonl::<QueryRecord>(&dir.join("queries.jsonl"))?
        .into_iter()
        .map(|q| (q.id, q.text))
        .collect();
    Ok(Dataset { corpus, queries })
}

/// query id → (doc id → graded relevance), positive grades only.
pub fn load_qrels(dir: &Path, split: &str) -> Result<Vec<(String, HashMap<String, u32>)>> {
    let path = dir.join("qrels").join(format!("{split}.tsv"));
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut by_query: HashMap<String, HashMap<String, u32>> = HashMap::new();
    let mut order = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < 3 {
            continue;
        }
        let grade: u32 = fields[2].trim().parse().unwrap_or(0);
        if grade == 0 {
            continue;
        }
        if !by_query.contains_key(fields[0]) {
            order.push(fields[0].to_owned());
        }
        by_query
            .entry(fields[0].to_owned())
            .or_default()
            .insert(fields[1].to_owned(), grade);
    }
    Ok(order
        .into_iter()
        .map(|q| {
            let rels = by_query.remove(&q).unwrap_or_default();
            (q, rels)
        })
        .collect())
}

pub fn markdown_of(record: &CorpusRecord) -> String {
    if record.title.trim().is_empty() {
        record.text.clone()
    } else {
        format!("# {}\n\n{}", record.title.trim(), record.text)
    }
}

/// The corpus through the upload path: one segment per record.
pub struct Indexed {
    pub segments: Vec<Arc<Segment>>,
    /// The segments as stored.
    pub bytes: Vec<Vec<u8>>,
    pub input_bytes: usize,
    pub elapsed: Duration,
    pub chunks: usize,
    /// Every record's chunks, in segment order (what an embedder embeds).
    pub chunk_lists: Vec<Vec<Chunk>>,
}

/// The upload path for every record, timed end to end (extract … serialize … deserialize).
pub fn index_corpus(corpus: &[CorpusRecord]) -> Result<Indexed> {
    let config = ChunkConfig::default();
    let started = Instant::now();
    let mut segments = Vec::with_capacity(corpus.len());
    let mut blobs = Vec::with_capacity(corpus.len());
    let mut input_bytes = 0;
    let mut chunks = 0;
    let mut chunk_lists = Vec::with_capacity(corpus.len());
    for record in corpus {
        let markdown = markdown_of(record);
        input_bytes += markdown.len();
        let indexed = match index_document(
            &record.id,
            1,
            record.title.trim(),
            "text/markdown",
            markdown.as_bytes(),
            &config,
        ) {
            Ok(indexed) => indexed,
            Err(crate::ExtractError::Empty) => continue,
            Err(e) => bail!("record {}: {e}", record.id),
        };
        chunks += indexed.chunks.len();
        chunk_lists.push(indexed.chunks.clone());
        let bytes = indexed.segment.to_bytes();
        let segment =
            Segment::from_bytes(&bytes).with_context(|| format!("record {}", record.id))?;
        segments.push(Arc::new(segment));
        blobs.push(bytes);
    }
    Ok(Indexed {
        segments,
        bytes: blobs,
        input_bytes,
        elapsed: started.elapsed(),
        chunks,
        chunk_lists,
    })
}

/// Mean ranking quality over a split's queries.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quality {
    pub ndcg_at_10: f64,
    pub recall_at_10: f64,
    pub recall_at_100: f64,
    pub mrr_at_10: f64,
    pub queries: usize,
}

impl Quality {
    /// Adds one query's ranking (document ids, best first) judged against its relevance grades.
    pub fn add(&mut self, ranked: &[&str], rels: &HashMap<String, u32>) {
        let dcg: f64 = ranked
            .iter()
            .take(10)
            .enumerate()
            .map(|(i, d)| f64::from(*rels.get(*d).unwrap_or(&0)) / (i as f64 + 2.0).log2())
            .sum();
        let mut ideal: Vec<u32> = rels.values().copied().collect();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        let idcg: f64 = ideal
            .iter()
            .take(10)
            .enumerate()
            .map(|(i, g)| f64::from(*g) / (i as f64 + 2.0).log2())
            .sum();
        let found = |k: usize| {
            ranked
                .iter()
                .take(k)
                .filter(|d| rels.contains_key(**d))
                .count()
        };
        self.ndcg_at_10 += if idcg > 0.0 { dcg / idcg } else { 0.0 };
        self.recall_at_10 += found(10) as f64 / rels.len().max(1) as f64;
        self.recall_at_100 += found(100) as f64 / rels.len().max(1) as f64;
        self.mrr_at_10 += ranked
            .iter()
            .take(10)
            .position(|d| rels.contains_key(*d))
            .map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
        self.queries += 1;
    }

    /// The means of the sums `add` collected.
    pub fn mean(self) -> Quality {
        let n = self.queries.max(1) as f64;
        Quality {
            ndcg_at_10: self.ndcg_at_10 / n,
            recall_at_10: self.recall_at_10 / n,
            recall_at_100: self.recall_at_100 / n,
            mrr_at_10: self.mrr_at_10 / n,
            queries: self.queries,
        }
    }
}
