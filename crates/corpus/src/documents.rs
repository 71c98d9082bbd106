//! Reading and managing stored documents: get, versions, list, rename, delete, text and
//! download.

use super::*;

impl Corpus {
    pub async fn get(&self, user: UserId, doc_id: &str) -> CorpusResult<Document> {
        let item = self
            .table
            .get(&user.partition(), &keys::document_sk(doc_id))
            .await?;
        item.ok_or(CorpusError::NotFound)?
            .decode()
            .map_err(Into::into)
    }

    pub async fn versions(&self, user: UserId, doc_id: &str) -> CorpusResult<Vec<DocumentVersion>> {
        self.get(user, doc_id).await?;
        self.version_records(user, doc_id).await
    }

    /// A page of the user's documents, oldest first; of one kind when given.
    pub async fn list(
        &self,
        user: UserId,
        kind: Option<DocumentKind>,
        limit: usize,
        cursor: Option<String>,
    ) -> CorpusResult<(Vec<Document>, Option<String>)> {
        let page = match kind {
            Some(kind) => {
                self.table
                    .query_index(
                        Query::partition(keys::kind_index_pk(user, kind.as_str()))
                            .limit(limit)
                            .after(cursor),
                    )
                    .await?
            }
            None => {
                self.table
                    .query(
                        Query::partition(user.partition())
                            .prefix(keys::DOCUMENT_PREFIX)
                            .limit(limit)
                            .after(cursor),
                    )
                    .await?
            }
        };
        let docs = page
            .items
            .iter()
            .map(|i| i.decode())
            .collect::<Result<Vec<Document>, _>>()?;
        Ok((docs, page.next_cursor))
    }

    /// Every document of the user (all pages).
    pub async fn all(&self, user: UserId) -> CorpusResult<Vec<Document>> {
        all_documents(self.table.as_ref(), user).await
    }

    /// Every document of the user as of now: one table read when this process already holds
    /// the catalog of the user's current corpus version, the whole list only after a change.
    pub async fn catalog(&self, user: UserId) -> CorpusResult<Arc<Catalog>> {
        let pk = user.partition();
        // The version is read before the list: a change landing in between makes the list
        // newer than the version it is cached under, so the next search reads it again.
        let version = catalog::current_version(self.table.as_ref(), &pk).await?;
        if let Some(cached) = self.catalogs.lock().expect("catalogs lock").get(&user)
            && cached.version() == version
        {
            return Ok(cached.clone());
        }
        let documents = all_documents(self.table.as_ref(), user).await?;
        let fresh = Arc::new(Catalog::new(version, documents));
        let mut catalogs = self.catalogs.lock().expect("catalogs lock");
        if catalogs.len() >= crate::segments::SET_CACHE_CAPACITY {
            catalogs.clear();
        }
        catalogs.insert(user, fresh.clone());
        Ok(fresh)
    }

    pub async fn rename(&self, user: UserId, doc_id: &str, name: &str) -> CorpusResult<Document> {
        self.update(user, doc_id, Some(name), None).await
    }

    /// Renames a document and/or moves it to another folder. The name must be free in the
    /// target folder (409 otherwise); the document keeps its id, versions and profiles.
    pub async fn update(
        &self,
        user: UserId,
        doc_id: &str,
        name: Option<&str>,
        folder: Option<&str>,
    ) -> CorpusResult<Document> {
        let name = name.map(validate_name).transpose()?;
        let folder = folder.map(validate_folder).transpose()?;
        let current = self.get(user, doc_id).await?;
        if self.relocate(user, &current, name, folder).await? {
            self.get(user, doc_id).await
        } else {
            Ok(current)
        }
    }

    /// Gives `current` (as last read) a new name and/or folder, both already normalised, in one
    /// transaction: the document, the claim of its new name, the release of its old one and the
    /// corpus version. False when nothing changes. 409 when the name is taken there, or when the
    /// document changed since `current` was read.
    pub(crate) async fn relocate(
        &self,
        user: UserId,
        current: &Document,
        name: Option<String>,
        folder: Option<String>,
    ) -> CorpusResult<bool> {
        let doc_id = current.id.as_str();
        let name = name.unwrap_or_else(|| current.name.clone());
        let folder = folder.unwrap_or_else(|| current.folder.clone());
        if name == current.name && folder == current.folder {
            return Ok(false);
        }
        if let Some(holder) = self.name_holder(user, &folder, &name).await?
            && holder != doc_id
        {
            return Err(name_taken(&folder, &name, &holder));
        }
        let pk = user.partition();
        let update = Update::new()
            .set("name", name.clone())
            .set("folder", folder.clone())
            .set("updated_at", clock::now());
        let mut ops = vec![
            TxOp::Update {
                pk: pk.clone(),
                sk: keys::document_sk(doc_id),
                update,
                condition: Condition::AttrEquals("name".into(), current.name.clone().into()),
            },
            TxOp::Put {
                item: ingest::claim_item(&pk, &folder, &name, doc_id),
                condition: Condition::NotExists,
            },
            catalog::bump(&pk),
        ];
        ops.extend(self.release_name(user, current).await?);
        match self.table.transact(ops).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => {
                self.get(user, doc_id).await?;
                match self.name_holder(user, &folder, &name).await? {
                    Some(holder) if holder != doc_id => Err(name_taken(&folder, &name, &holder)),
                    _ => Err(CorpusError::Conflict(
                        "the document changed meanwhile; retry".into(),
                    )),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The write that frees `doc`'s name in its folder, if it holds the claim (documents stored
    /// before folders existed hold none); conditional, so it cannot free another's claim.
    async fn release_name(&self, user: UserId, doc: &Document) -> CorpusResult<Option<TxOp>> {
        let held = self
            .name_holder(user, &doc.folder, &doc.name)
            .await?
            .is_some_and(|holder| holder == doc.id);
        Ok(held.then(|| TxOp::Delete {
            pk: user.partition(),
            sk: keys::name_claim_sk(&doc.folder, &doc.name),
            condition: Condition::AttrEquals("doc_id".into(), doc.id.clone().into()),
        }))
    }

    /// A page of the documents in `folder` (with `recursive`, also those in every folder below
    /// it), ordered by folder path, then oldest first. Read from the cached catalog.
    pub async fn list_folder(
        &self,
        user: UserId,
        folder: &str,
        recursive: bool,
        kind: Option<DocumentKind>,
        limit: usize,
        cursor: Option<&str>,
    ) -> CorpusResult<(Vec<Document>, Option<String>)> {
        let folder = validate_folder(folder)?;
        let after = cursor.map(decode_folder_cursor).transpose()?;
        let catalog = self.catalog(user).await?;
        let docs: Vec<&Document> = if recursive {
            catalog.in_folders(std::slice::from_ref(&folder))
        } else {
            catalog.in_folder(&folder).collect()
        };
        let mut page = docs
            .into_iter()
            .filter(|d| kind.is_none_or(|k| d.kind == k))
            .filter(|d| {
                after.as_ref().is_none_or(|(f, id)| {
                    (d.folder.as_str(), d.id.as_str()) > (f.as_str(), id.as_str())
                })
            })
            .take(limit + 1)
            .cloned()
            .collect::<Vec<_>>();
        let next = (page.len() > limit).then(|| {
            page.truncate(limit);
            let last = page.last().expect("a full page");
            encode_folder_cursor(&last.folder, &last.id)
        });
        Ok((page, next))
    }

    /// A page of the user's folders (every folder holding documents and its ancestors), in tree
    /// order (each folder followed by its subfolders), with direct and total document counts. Read from the cached catalog.
    pub async fn folders(
        &self,
        user: UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> CorpusResult<(Vec<FolderSummary>, Option<String>)> {
        let after = cursor.map(decode_folder_cursor).transpose()?;
        let catalog = self.catalog(user).await?;
        let mut page: Vec<FolderSummary> = catalog
            .folder_summaries()
            .into_iter()
            .filter(|f| {
                after.as_ref().is_none_or(|(path, _)| {
                    catalog::tree_order(&f.path, path) == std::cmp::Ordering::Greater
                })
            })
            .take(limit + 1)
            .collect();
        let next = (page.len() > limit).then(|| {
            page.truncate(limit);
            encode_folder_cursor(&page.last().expect("a full page").path, "")
        });
        Ok((page, next))
    }

    /// Deletes the document, every version's bytes, extracted text and index segment. The
    /// metadata goes first, the versions' records last: a deletion the store interrupted is
    /// finished by deleting again (the document is gone, its versions are not).
    pub async fn delete(&self, user: UserId, doc_id: &str) -> CorpusResult<()> {
        let pk = user.partition();
        let versions = self.version_records(user, doc_id).await?;
        let doc = match self.get(user, doc_id).await {
            Ok(doc) => Some(doc),
            // Gone already: an interrupted deletion, finished below.
            Err(CorpusError::NotFound) if !versions.is_empty() => None,
            Err(e) => return Err(e),
        };
        if let Some(doc) = doc {
            // From here lists and searches no longer see the document, whatever happens to the
            // cleanup below.
            let mut ops = vec![
                TxOp::Delete {
                    pk: pk.clone(),
                    sk: keys::document_sk(doc_id),
                    condition: Condition::Exists,
                },
                catalog::bump(&pk),
            ];
            ops.extend(self.release_name(user, &doc).await?);
            match self.table.transact(ops).await {
                Ok(()) => {}
                Err(StoreError::ConditionFailed) if versions.is_empty() => {
                    return Err(CorpusError::NotFound);
                }
                // Deleted meanwhile by another request: finished below.
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // The merged segment still holds the deleted text: drop it (the next search rebuilds one).
        self.blobs.delete(&keys::merged_segment_blob(user)).await?;
        for v in versions {
            self.blobs
                .delete(&keys::segment_blob(user, doc_id, v.version))
                .await?;
            self.blobs
                .delete(&keys::text_blob(user, doc_id, v.version))
                .await?;
            let owned = Condition::AttrEquals("doc_id".into(), doc_id.into());
            match self
                .table
                .get(&pk, &keys::content_hash_sk(&v.content_hash))
                .await?
            {
                Some(claim) if claim.str("doc_id") == Some(doc_id) => {
                    // The bytes go before their claim, so a retry still knows they are ours.
                    self.blobs
                        .delete(&keys::content_blob(user, &v.content_hash))
                        .await?;
                    match self
                        .table
                        .delete(&pk, &keys::content_hash_sk(&v.content_hash), owned)
                        .await
                    {
                        Ok(()) | Err(StoreError::ConditionFailed) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                _ => {}
            }
            self.table
                .delete(&pk, &keys::version_sk(doc_id, v.version), Condition::None)
                .await?;
            let prefix = format!("{}#", keys::segment_blob(user, doc_id, v.version));
            self.cache
                .lock()
                .expect("cache lock")
                .retain(|k, _| !k.starts_with(&prefix));
        }
        Ok(())
    }

    /// The version records of a document, whether or not the document itself still exists.
    async fn version_records(
        &self,
        user: UserId,
        doc_id: &str,
    ) -> CorpusResult<Vec<DocumentVersion>> {
        let query = Query::partition(user.partition())
            .prefix(keys::versions_prefix(doc_id))
            .descending()
            .limit(1000);
        let page = self.table.query(query).await?;
        page.items
            .iter()
            .map(|i| i.decode().map_err(Into::into))
            .collect()
    }

    /// The extracted text of the current version.
    pub async fn text(&self, user: UserId, doc_id: &str) -> CorpusResult<(Document, String)> {
        let doc = self.get(user, doc_id).await?;
        if doc.status != DocumentStatus::Ready {
            return Err(CorpusError::Conflict(format!(
                "the document is {}",
                doc.status.as_str()
            )));
        }
        let blob = self
            .blobs
            .get(&keys::text_blob(user, doc_id, doc.version))
            .await?
            .ok_or_else(|| {
                CorpusError::Unexpected(anyhow::anyhow!(
                    "extracted text of {doc_id} v{} is missing",
                    doc.version
                ))
            })?;
        let text = String::from_utf8(blob.body.to_vec()).map_err(anyhow::Error::from)?;
        Ok((doc, text))
    }

    pub async fn download_url(&self, user: UserId, doc_id: &str) -> CorpusResult<PresignedUrl> {
        let doc = self.get(user, doc_id).await?;
        Ok(self
            .blobs
            .presign_get(
                &keys::content_blob(user, &doc.content_hash),
                DOWNLOAD_URL_TTL,
            )
            .await?)
    }
}

/// Every document of the user, oldest first (all pages).
pub(crate) async fn all_documents(table: &dyn Table, user: UserId) -> CorpusResult<Vec<Document>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::partition(user.partition())
                    .prefix(keys::DOCUMENT_PREFIX)
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            out.push(item.decode()?);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Folder-list cursors: opaque to clients, `f` + hex of `folder NUL id`.
fn encode_folder_cursor(folder: &str, id: &str) -> String {
    format!("f{}", hex::encode(format!("{folder}\0{id}")))
}

fn decode_folder_cursor(cursor: &str) -> CorpusResult<(String, String)> {
    let invalid = || CorpusError::Invalid {
        field: "cursor",
        message: "not a cursor this list issued".into(),
    };
    let raw = cursor.strip_prefix('f').ok_or_else(invalid)?;
    if raw.len() > 2 * 1024 {
        return Err(invalid());
    }
    let bytes = hex::decode(raw).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (folder, id) = text.split_once('\0').ok_or_else(invalid)?;
    Ok((folder.to_owned(), id.to_owned()))
}
