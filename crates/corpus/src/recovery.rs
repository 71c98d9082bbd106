//! After a crash: documents whose ingestion a stopped process left half-done (`pending` or
//! `processing`, their bytes stored) are ingested again, so no upload stays `pending` for ever.

use super::*;

impl Corpus {
    /// Ingests again every `pending` or `processing` document of `user` (from its stored bytes,
    /// inline or through the queue; one whose bytes are missing fails with a reason). Returns
    /// how many. Run at start-up, before serving.
    pub async fn resume_pending(&self, user: UserId) -> CorpusResult<usize> {
        let mut resumed = 0;
        for doc in self.all(user).await? {
            if !matches!(
                doc.status,
                DocumentStatus::Pending | DocumentStatus::Processing
            ) {
                continue;
            }
            let key = keys::content_blob(user, &doc.content_hash);
            match self.blobs.get(&key).await? {
                Some(blob) => {
                    self.start_ingest(user, doc, Some(blob.body)).await?;
                }
                None => {
                    let mut doc = doc;
                    doc.status = DocumentStatus::Failed;
                    doc.failure_reason = Some(
                        "the upload was interrupted before its bytes were stored; upload it again"
                            .into(),
                    );
                    doc.updated_at = clock::now();
                    self.write_status(user, &doc).await?;
                }
            }
            resumed += 1;
        }
        Ok(resumed)
    }
}
