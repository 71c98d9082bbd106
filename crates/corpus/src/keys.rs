//! Every key of a document entity, built in one place. All start from the owner's user id, so
//! nothing here can reach another user's data.

/// The partition of everything a user owns.
pub fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// The document's current metadata.
pub fn document_sk(doc_id: &str) -> String {
    format!("DOC#{doc_id}")
}

pub const DOCUMENT_PREFIX: &str = "DOC#";

/// One version of a document (zero-padded so versions sort).
pub fn version_sk(doc_id: &str, version: u64) -> String {
    format!("DOCV#{doc_id}#{version:08}")
}

pub fn versions_prefix(doc_id: &str) -> String {
    format!("DOCV#{doc_id}#")
}

/// Which document version holds this content (identical content is stored once per user).
pub fn content_hash_sk(sha256: &str) -> String {
    format!("HASH#{sha256}")
}

/// A pending presigned upload.
pub fn upload_sk(doc_id: &str) -> String {
    format!("UPLOAD#{doc_id}")
}

/// Secondary-index partition listing a user's documents of one kind, newest last.
pub fn kind_index_pk(user_id: &str, kind: &str) -> String {
    format!("USER#{user_id}#DOCKIND#{kind}")
}

pub fn content_blob(user_id: &str, sha256: &str) -> String {
    format!("users/{user_id}/content/{sha256}")
}

pub fn upload_blob(user_id: &str, doc_id: &str) -> String {
    format!("users/{user_id}/uploads/{doc_id}")
}

pub fn text_blob(user_id: &str, doc_id: &str, version: u64) -> String {
    format!("users/{user_id}/text/{doc_id}/{version:08}.txt")
}

pub fn segments_prefix(user_id: &str) -> String {
    format!("users/{user_id}/segments/")
}

pub fn segment_blob(user_id: &str, doc_id: &str, version: u64) -> String {
    format!("users/{user_id}/segments/{doc_id}-{version:08}.seg")
}

/// The user's compacted segment: many document versions in one blob.
pub fn merged_segment_blob(user_id: &str) -> String {
    format!("users/{user_id}/segments/_merged.seg")
}
