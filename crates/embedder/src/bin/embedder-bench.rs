//! Benchmarks of the built-in embedder on a BEIR-layout folder.
//!
//! `embedder-bench quality DIR --model-dir M [--name N] [--out FILE] [--cache FILE]`: BM25,
//! dense and hybrid nDCG@10 / Recall@100 side by side. The fusion constants (RRF k and the
//! embedding ranking's weight) are chosen on the train split and reported on the test split.
//! `embedder-bench speed DIR --model-dir M [--chunks N] [--out FILE]`: embedding throughput
//! (chunks per second) and query-embedding latency through the embedder port.
//!
//! Every record goes through the upload path (extract → chunk → segment), chunks are embedded
//! as the documents service embeds them (title › headings, then the text), and hybrid search is
//! the service's own `SegmentSet::hybrid_search` over int8-quantised vectors. Dense-only ranking
//! is an exact float cosine scan (the service never ranks by vectors alone).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ragenie_embedder::{BlockingEmbedder, LocalEmbedder};
use ragenie_retrieval::beir::{Indexed, Quality, index_corpus, load, load_qrels};
use ragenie_retrieval::{
    Embedder, Fusion, QueryVector, SearchOptions, Segment, SegmentSet, chunk_embedding_text,
};
use serde_json::json;

struct Args {
    command: String,
    dir: PathBuf,
    model_dir: PathBuf,
    name: String,
    out: Option<PathBuf>,
    cache: Option<PathBuf>,
    chunks: usize,
}

fn parse_args() -> Result<Args> {
    let mut raw = std::env::args().skip(1);
    let command = raw
        .next()
        .context("usage: embedder-bench quality|speed DIR --model-dir M …")?;
    let dir = PathBuf::from(raw.next().context("missing DIR")?);
    let mut args = Args {
        command,
        dir,
        model_dir: PathBuf::new(),
        name: "all-MiniLM-L6-v2".into(),
        out: None,
        cache: None,
        chunks: 1000,
    };
    while let Some(flag) = raw.next() {
        let value = raw
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--model-dir" => args.model_dir = PathBuf::from(value),
            "--name" => args.name = value,
            "--out" => args.out = Some(PathBuf::from(value)),
            "--cache" => args.cache = Some(PathBuf::from(value)),
            "--chunks" => args.chunks = value.parse().context("--chunks")?,
            _ => bail!("unknown flag {flag}"),
        }
    }
    if args.model_dir.as_os_str().is_empty() {
        bail!("--model-dir is required");
    }
    Ok(args)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Vectors cached on disk (embedding SciFact takes minutes on 2 cores), keyed by a hash of the
/// texts and the model so a changed corpus, chunker or model is embedded again.
fn cached_vectors(
    path: Option<&Path>,
    key: u64,
    embed: impl FnOnce() -> Result<Vec<Vec<f32>>>,
) -> Result<(Vec<Vec<f32>>, bool)> {
    if let Some(path) = path
        && let Ok(bytes) = std::fs::read(path)
        && bytes.len() >= 16
        && u64::from_le_bytes(bytes[..8].try_into()?) == key
    {
        let dims = u64::from_le_bytes(bytes[8..16].try_into()?) as usize;
        let floats: Vec<f32> = bytes[16..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        return Ok((
            floats.chunks(dims.max(1)).map(<[f32]>::to_vec).collect(),
            true,
        ));
    }
    let vectors = embed()?;
    if let Some(path) = path {
        let dims = vectors.first().map_or(0, Vec::len) as u64;
        let mut bytes = key.to_le_bytes().to_vec();
        bytes.extend(dims.to_le_bytes());
        for v in &vectors {
            for x in v {
                bytes.extend(x.to_le_bytes());
            }
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, bytes)?;
    }
    Ok((vectors, false))
}

fn text_key(name: &str, texts: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    texts.hash(&mut h);
    h.finish()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn write_json(out: &Option<PathBuf>, value: &serde_json::Value) -> Result<()> {
    if let Some(path) = out {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

/// Embeds one text at a time through the port (as a search does) and returns the latencies
/// in milliseconds, sorted.
fn query_latencies(model: &Arc<LocalEmbedder>, queries: &[String]) -> Result<Vec<f64>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let port = BlockingEmbedder(model.clone());
    let mut latencies = Vec::with_capacity(queries.len());
    runtime.block_on(async {
        // Warm-up: the first call touches every weight.
        port.embed(&queries[..1]).await?;
        for q in queries {
            let started = Instant::now();
            port.embed(std::slice::from_ref(q)).await?;
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok::<_, ragenie_retrieval::DenseError>(())
    })?;
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

/// Every chunk's text as ingest embeds it, in segment order.
fn chunk_texts(indexed: &Indexed) -> Vec<String> {
    indexed
        .segments
        .iter()
        .zip(&indexed.chunk_lists)
        .flat_map(|(segment, chunks)| {
            let title = segment.documents()[0].title.clone();
            chunks.iter().map(move |c| chunk_embedding_text(&title, c))
        })
        .collect()
}

fn quality(args: &Args) -> Result<()> {
    let data = load(&args.dir)?;
    let indexed = index_corpus(&data.corpus)?;
    let texts = chunk_texts(&indexed);
    let model = Arc::new(LocalEmbedder::load(&args.name, &args.model_dir)?);
    let label = format!("local:{}", args.name);
    println!(
        "embedding {} chunks of {} documents …",
        texts.len(),
        indexed.segments.len()
    );
    let started = Instant::now();
    let (vectors, from_cache) =
        cached_vectors(args.cache.as_deref(), text_key(&args.name, &texts), || {
            let mut out = Vec::with_capacity(texts.len());
            for (i, batch) in texts.chunks(256).enumerate() {
                out.extend(model.embed(batch)?);
                if i % 4 == 3 {
                    eprintln!("  {} / {}", out.len(), texts.len());
                }
            }
            Ok(out)
        })?;
    let embed_seconds = started.elapsed().as_secs_f64();

    // The segments with their chunks' vectors, merged as compaction merges them.
    let mut with_vectors = Vec::with_capacity(indexed.segments.len());
    let mut offset = 0;
    let mut chunk_docs: Vec<String> = Vec::with_capacity(vectors.len());
    for (segment, chunks) in indexed.segments.iter().zip(&indexed.chunk_lists) {
        let mut s = (**segment).clone();
        let own = &vectors[offset..offset + chunks.len()];
        s.attach_vectors(&label, own)
            .map_err(|e| anyhow::anyhow!(e))?;
        let id = s.documents()[0].doc_id.clone();
        chunk_docs.extend(std::iter::repeat_n(id, chunks.len()));
        offset += chunks.len();
        with_vectors.push(s);
    }
    let merged = Segment::merge_keeping(&with_vectors, |_, _| true, Some(&label));
    let set = SegmentSet::new(vec![Arc::new(merged)]);

    let splits = ["train", "test"];
    let qrels: HashMap<&str, _> = splits
        .iter()
        .map(|s| Ok((*s, load_qrels(&args.dir, s)?)))
        .collect::<Result<_>>()?;
    let query_ids: Vec<&String> = splits
        .iter()
        .flat_map(|s| qrels[s].iter().map(|(q, _)| q))
        .filter(|q| data.queries.contains_key(*q))
        .collect();
    let query_texts: Vec<String> = query_ids.iter().map(|q| data.queries[*q].clone()).collect();
    let query_vectors: HashMap<&str, Vec<f32>> = query_ids
        .iter()
        .map(|q| q.as_str())
        .zip(model.embed(&query_texts)?)
        .collect();

    let evaluate = |split: &str, ranker: &dyn Fn(&str, &[f32]) -> Vec<String>| -> Quality {
        let mut q = Quality::default();
        for (query_id, rels) in &qrels[split] {
            let (Some(text), Some(vector)) = (
                data.queries.get(query_id),
                query_vectors.get(query_id.as_str()),
            ) else {
                continue;
            };
            let ranked = ranker(text, vector);
            let ranked: Vec<&str> = ranked.iter().map(String::as_str).collect();
            q.add(&ranked, rels);
        }
        q.mean()
    };
    let search = |fusion: Option<Fusion>| {
        let set = &set;
        let label = &label;
        move |text: &str, vector: &[f32]| -> Vec<String> {
            let options = SearchOptions {
                k: 100,
                max_chunks_per_doc: Some(1),
                snippet_chars: 0,
                fusion: fusion.unwrap_or_default(),
                ..SearchOptions::default()
            };
            let dense = fusion.map(|_| QueryVector {
                model: label,
                vector,
            });
            set.hybrid_search(text, dense, &options)
                .into_iter()
                .map(|h| h.doc_id)
                .collect()
        }
    };
    let dense = |_: &str, vector: &[f32]| -> Vec<String> {
        let mut best: HashMap<&str, f32> = HashMap::new();
        for (v, doc) in vectors.iter().zip(&chunk_docs) {
            let s = dot(v, vector);
            let e = best.entry(doc.as_str()).or_insert(f32::MIN);
            *e = e.max(s);
        }
        let mut ranked: Vec<(&str, f32)> = best.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        ranked
            .into_iter()
            .take(100)
            .map(|(d, _)| d.to_owned())
            .collect()
    };

    // Fusion constants chosen on train only.
    let mut grid = Vec::new();
    for rrf_k in [5.0, 10.0, 20.0, 40.0, 60.0, 100.0] {
        for dense_weight in [0.5, 0.75, 1.0, 1.25, 1.5, 2.0] {
            let fusion = Fusion {
                rrf_k,
                dense_weight,
            };
            let q = evaluate("train", &search(Some(fusion)));
            grid.push((q.ndcg_at_10, fusion));
        }
    }
    grid.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (train_best, tuned) = grid[0];
    println!(
        "\nfusion chosen on train ({} queries):",
        qrels["train"].len()
    );
    for (ndcg, f) in grid.iter().take(5) {
        println!(
            "  nDCG@10 {ndcg:.4}  rrf_k={} dense_weight={}",
            f.rrf_k, f.dense_weight
        );
    }

    let bm25 = evaluate("test", &search(None));
    let dense_q = evaluate("test", &dense);
    let hybrid_default = evaluate("test", &search(Some(Fusion::default())));
    let hybrid = evaluate("test", &search(Some(tuned)));

    println!(
        "\nretrieval quality on {} test ({} queries, {} documents, {} chunks), embedder {label}\n",
        args.dir.display(),
        bm25.queries,
        indexed.segments.len(),
        texts.len()
    );
    println!(
        "| {:<34} | {:>8} | {:>10} | {:>10} |",
        "ranking", "nDCG@10", "Recall@10", "Recall@100"
    );
    println!("|{:-<36}|{:->10}|{:->12}|{:->12}|", "", "", "", "");
    let row = |name: &str, q: &Quality| {
        println!(
            "| {name:<34} | {:>8.4} | {:>10.4} | {:>10.4} |",
            q.ndcg_at_10, q.recall_at_10, q.recall_at_100
        );
    };
    row("BM25", &bm25);
    row("dense (exact cosine)", &dense_q);
    row("hybrid, RRF k=60 w=1 (untuned)", &hybrid_default);
    row(
        &format!(
            "hybrid, k={} w={} (train-tuned)",
            tuned.rrf_k, tuned.dense_weight
        ),
        &hybrid,
    );
    println!(
        "\ntarget: hybrid nDCG@10 ≥ 0.72 ({:.3}×)",
        hybrid.ndcg_at_10 / 0.72
    );
    let chunks_per_second = if from_cache {
        None
    } else {
        Some(texts.len() as f64 / embed_seconds)
    };
    if let Some(cps) = chunks_per_second {
        println!(
            "embedded {} chunks in {embed_seconds:.1} s: {cps:.1} chunks/s",
            texts.len()
        );
    } else {
        println!("chunk vectors read from the cache (delete it to time embedding again)");
    }
    write_json(
        &args.out,
        &json!({
            "ndcg_at_10_bm25": bm25.ndcg_at_10,
            "ndcg_at_10_dense": dense_q.ndcg_at_10,
            "ndcg_at_10_hybrid": hybrid.ndcg_at_10,
            "ndcg_at_10_hybrid_untuned": hybrid_default.ndcg_at_10,
            "recall_at_10_bm25": bm25.recall_at_10,
            "recall_at_10_dense": dense_q.recall_at_10,
            "recall_at_10_hybrid": hybrid.recall_at_10,
            "recall_at_100_bm25": bm25.recall_at_100,
            "recall_at_100_dense": dense_q.recall_at_100,
            "recall_at_100_hybrid": hybrid.recall_at_100,
            "ndcg_at_10": bm25.ndcg_at_10,
            "recall_at_10": bm25.recall_at_10,
            "recall_at_100": bm25.recall_at_100,
            "ndcg_at_10_hybrid_target": 0.72,
            "ndcg_at_10_hybrid_vs_target": hybrid.ndcg_at_10 / 0.72,
            "fusion_rrf_k": tuned.rrf_k,
            "fusion_dense_weight": tuned.dense_weight,
            "fusion_chosen_on": "train",
            "ndcg_at_10_hybrid_train": train_best,
            "embedder": label,
            "queries": bm25.queries,
            "documents": indexed.segments.len(),
            "chunks": texts.len(),
            "split": "test",
            "dataset": args.dir.display().to_string(),
            "embedding_chunks_per_second": chunks_per_second,
        }),
    )
}

fn speed(args: &Args) -> Result<()> {
    let data = load(&args.dir)?;
    let corpus = &data.corpus[..data.corpus.len().min(args.chunks)];
    let indexed = index_corpus(corpus)?;
    let mut texts = chunk_texts(&indexed);
    texts.truncate(args.chunks);
    let started = Instant::now();
    let model = ragenie_embedder::shared(&args.name, &args.model_dir)?;
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let threads = candle_threads();
    // Through the port, in the batches ingest sends.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let port = BlockingEmbedder(model.clone());
    let started = Instant::now();
    runtime.block_on(async {
        for batch in texts.chunks(256) {
            port.embed(batch).await?;
        }
        Ok::<_, ragenie_retrieval::DenseError>(())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let chunks_per_second = texts.len() as f64 / seconds;
    let tokens: usize = model.token_counts(&texts)?.iter().sum();
    let tokens_per_second = tokens as f64 / seconds;
    let mean_tokens = tokens as f64 / texts.len().max(1) as f64;
    let mut queries: Vec<String> = data.queries.values().cloned().collect();
    queries.sort();
    queries.truncate(300);
    let latencies = query_latencies(&model, &queries)?;
    let p50 = percentile(&latencies, 50.0);
    let p95 = percentile(&latencies, 95.0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nbuilt-in embedder local:{} on {threads} threads (load average {})\n",
        args.name,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "| {:<34} | {:>12} | {:>10} |",
        "metric", "measured", "target"
    );
    println!("|{:-<36}|{:->14}|{:->12}|", "", "", "");
    println!(
        "| {:<34} | {:>12.1} | {:>10} |",
        "model load (ms)", load_ms, "-"
    );
    println!(
        "| {:<34} | {:>12.1} | {:>10} |",
        format!("embedding, chunks/s ({} chunks)", texts.len()),
        chunks_per_second,
        "≥ 100"
    );
    println!(
        "| {:<34} | {:>12.0} | {:>10} |",
        format!("tokens/s ({mean_tokens:.0} per chunk)"),
        tokens_per_second,
        "-"
    );
    println!(
        "| {:<34} | {:>12.2} | {:>10} |",
        "query embedding p50 (ms)", p50, "-"
    );
    println!(
        "| {:<34} | {:>12.2} | {:>10} |",
        "query embedding p95 (ms)", p95, "< 15"
    );
    println!(
        "\nNot covered: the blob store and table around an upload (see retrieval-speed's indexing rows)."
    );
    write_json(
        &args.out,
        &json!({
            "embedding_model": format!("local:{}", args.name),
            "embedding_chunks_per_second": chunks_per_second,
            "embedding_chunks": texts.len(),
            "embedding_tokens_per_second": tokens_per_second,
            "embedding_mean_tokens_per_chunk": mean_tokens,
            "embedding_threads": threads,
            "embedding_model_load_ms": load_ms,
            "query_embedding_p50_ms": p50,
            "query_embedding_p95_ms": p95,
            "query_embedding_queries": latencies.len(),
        }),
    )
}

fn candle_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn main() -> Result<()> {
    let args = parse_args()?;
    match args.command.as_str() {
        "quality" => quality(&args),
        "speed" => speed(&args),
        other => bail!("unknown command {other}: quality or speed"),
    }
}

/// The allocator every product binary uses (ragenie-common declares it), so the figures are the
/// server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
