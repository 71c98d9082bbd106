//! Index segments: loaded once per process (immutable per version), gathered into the
//! user's searchable set, compacted in the background into one merged segment.

use super::*;
use crate::documents::all_documents;

/// Segments kept in memory per process; immutable per version, so a key never goes stale.
pub(crate) const SEGMENT_CACHE_CAPACITY: usize = 4096;

/// Separate segments loaded beyond a merged one before a new merged segment is written.
pub(crate) const COMPACT_AFTER: usize = 16;
/// Users whose searchable sets stay in memory.
pub(crate) const SET_CACHE_CAPACITY: usize = 256;

impl Corpus {
    /// Waits for the background compaction started last, if any (tests: its reads and writes
    /// must not land inside a measurement).
    #[cfg(test)]
    pub(crate) async fn compaction_finished(&self) {
        let running = self.compaction.lock().expect("compaction lock").take();
        if let Some(task) = running {
            let _ = task.await;
        }
    }

    /// A version's segment, cached by its key and embedding model: a re-index rewrites the
    /// blob with vectors, and a process that cached it before must read it again.
    pub(crate) async fn load_segment(
        &self,
        key: &str,
        embedding_model: Option<&str>,
    ) -> CorpusResult<Option<Arc<Segment>>> {
        let cache_key = format!("{key}#{}", embedding_model.unwrap_or_default());
        if let Some(hit) = self.cache.lock().expect("cache lock").get(&cache_key) {
            return Ok(Some(hit.clone()));
        }
        let Some(blob) = self.blobs.get(key).await? else {
            return Ok(None);
        };
        let segment = tokio::task::spawn_blocking(move || Segment::from_bytes(&blob.body))
            .await
            .map_err(|e| anyhow::anyhow!("decoding task failed: {e}"))?
            .map_err(|e| anyhow::anyhow!("segment {key} is unreadable: {e}"))?;
        let segment = Arc::new(segment);
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() >= SEGMENT_CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(cache_key, segment.clone());
        Ok(Some(segment))
    }

    /// The searchable set of the user's ready documents: reused while no document changes;
    /// otherwise the user's merged segment plus the segments of versions it does not cover,
    /// compacted into a new merged segment in the background when those are many (so a user
    /// with thousands of small documents reads one blob, not thousands).
    pub(crate) async fn segment_set(
        &self,
        user: UserId,
        catalog: &Catalog,
    ) -> CorpusResult<Arc<SegmentSet>> {
        let key = catalog.version();
        if let Some((k, set)) = self.sets.lock().expect("sets lock").get(&user)
            && *k == key
        {
            return Ok(set.clone());
        }
        let docs: Vec<&Document> = catalog.ready().collect();
        let merged_key = keys::merged_segment_blob(user);
        let merged = match self.blobs.get(&merged_key).await? {
            Some(blob) => tokio::task::spawn_blocking(move || Segment::from_bytes(&blob.body).ok())
                .await
                .map_err(|e| anyhow::anyhow!("decoding task failed: {e}"))?,
            None => None,
        };
        let covered: std::collections::HashSet<(String, u64)> = merged
            .iter()
            .flat_map(|m| m.covers().map(|(d, v)| (d.to_owned(), v)))
            .collect();
        let mut segments: Vec<Arc<Segment>> = merged.map(Arc::new).into_iter().collect();
        let mut separate = 0;
        for doc in &docs {
            if covered.contains(&(doc.id.clone(), doc.version)) {
                continue;
            }
            if let Some(segment) = self
                .load_segment(
                    &keys::segment_blob(user, &doc.id, doc.version),
                    doc.embedding_model.as_deref(),
                )
                .await?
            {
                segments.push(segment);
                separate += 1;
            }
        }
        if separate >= COMPACT_AFTER {
            let live: std::collections::HashSet<(String, u64)> =
                docs.iter().map(|d| (d.id.clone(), d.version)).collect();
            let covered: HashMap<String, Option<String>> = docs
                .iter()
                .map(|d| (d.id.clone(), d.embedding_model.clone()))
                .collect();
            let (table, blobs, parts) = (self.table.clone(), self.blobs.clone(), segments.clone());
            let model = self.embedding_model().map(str::to_owned);
            let compaction = tokio::spawn(async move {
                let merged = tokio::task::spawn_blocking(move || {
                    let owned: Vec<Segment> = parts.iter().map(|s| (**s).clone()).collect();
                    let keep = |d: &str, v: u64| live.contains(&(d.to_owned(), v));
                    Segment::merge_keeping(&owned, keep, model.as_deref()).to_bytes()
                })
                .await;
                let Ok(bytes) = merged else { return };
                if let Err(e) = blobs
                    .put(&merged_key, Bytes::from(bytes), "application/octet-stream")
                    .await
                {
                    tracing::warn!(error = %e, "could not write the merged segment");
                    return;
                }
                if let Err(e) =
                    discard_merged_if_stale(table.as_ref(), blobs.as_ref(), user, &covered).await
                {
                    tracing::warn!(error = %e, "could not check the merged segment");
                }
            });
            *self.compaction.lock().expect("compaction lock") = Some(compaction);
        }
        let set = tokio::task::spawn_blocking(move || Arc::new(SegmentSet::new(segments)))
            .await
            .map_err(|e| anyhow::anyhow!("index task failed: {e}"))?;
        let mut sets = self.sets.lock().expect("sets lock");
        if sets.len() >= SET_CACHE_CAPACITY {
            sets.clear();
        }
        sets.insert(user, (key, set.clone()));
        Ok(set)
    }
}

/// Closes the race between compaction and deletion: a compaction that started before a delete
/// can write the deleted document back into the merged segment after the delete dropped it.
/// Run after every merged-segment write: if a covered document is gone, the merged segment goes
/// too (the next search rebuilds it). Either this check sees the delete's metadata removal, or
/// the delete removes the merged segment after this write (it does that last). `Ok(true)` when
/// it was discarded.
pub(crate) async fn discard_merged_if_stale(
    table: &dyn Table,
    blobs: &dyn Blobs,
    user: UserId,
    covered: &HashMap<String, Option<String>>,
) -> CorpusResult<bool> {
    let existing: HashMap<String, Option<String>> = all_documents(table, user)
        .await?
        .into_iter()
        .map(|d| (d.id, d.embedding_model))
        .collect();
    // Deleted since, or re-embedded since (the merged copy would carry the old vectors).
    if covered
        .iter()
        .all(|(id, model)| existing.get(id) == Some(model))
    {
        return Ok(false);
    }
    blobs.delete(&keys::merged_segment_blob(user)).await?;
    Ok(true)
}
