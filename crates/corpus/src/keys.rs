//! Every key of a document entity, built in one place. Table keys live in the owner's
//! partition (`UserId::partition`) and blob keys under the owner's prefix
//! (`UserId::blob_prefix`), so nothing here can reach another user's data.

use ragenie_common::accounts::UserId;

/// The document's current metadata.
pub fn document_sk(doc_id: &str) -> String {
    format!("{DOCUMENT_PREFIX}{doc_id}")
}

pub const DOCUMENT_PREFIX: &str = "DOC#";

/// One version of a document (zero-padded so versions sort).
pub fn version_sk(doc_id: &str, version: u64) -> String {
    format!("{}{version:08}", versions_prefix(doc_id))
}

pub fn versions_prefix(doc_id: &str) -> String {
    format!("DOCV#{doc_id}#")
}

/// Which document version holds this content (identical content is stored once per user).
pub fn content_hash_sk(sha256: &str) -> String {
    format!("HASH#{sha256}")
}

/// Claims a name in a folder for one document: names are unique per folder (the item holds
/// `doc_id`). Hashed so any folder and name make a bounded key.
pub fn name_claim_sk(folder: &str, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(folder.as_bytes())
        .chain_update([0u8])
        .chain_update(name.as_bytes())
        .finalize();
    format!("NAME#{}", hex::encode(digest))
}

/// A pending presigned upload.
pub fn upload_sk(doc_id: &str) -> String {
    format!("UPLOAD#{doc_id}")
}

/// Secondary-index partition listing a user's documents of one kind, newest last.
pub fn kind_index_pk(user: UserId, kind: &str) -> String {
    format!("{}#DOCKIND#{kind}", user.partition())
}

pub fn content_blob(user: UserId, sha256: &str) -> String {
    format!("{}content/{sha256}", user.blob_prefix())
}

/// A presigned upload's bytes until the commit (removed after a day if it never comes).
pub fn upload_blob(user: UserId, doc_id: &str) -> String {
    format!("{}{doc_id}", user.upload_prefix())
}

pub fn text_blob(user: UserId, doc_id: &str, version: u64) -> String {
    format!("{}text/{doc_id}/{version:08}.txt", user.blob_prefix())
}

pub fn segments_prefix(user: UserId) -> String {
    format!("{}segments/", user.blob_prefix())
}

pub fn segment_blob(user: UserId, doc_id: &str, version: u64) -> String {
    format!("{}{doc_id}-{version:08}.seg", segments_prefix(user))
}

/// The user's compacted segment: many document versions in one blob.
pub fn merged_segment_blob(user: UserId) -> String {
    format!("{}_merged.seg", segments_prefix(user))
}

/// The user's corpus version: bumped by every document change (see `catalog`).
pub const CORPUS_VERSION_SK: &str = "CORPUS";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_stored_shape_and_start_from_the_user() {
        let u = UserId::parse("01JDQ5Y8ZKXG2M4N6P8R0T2V4W").unwrap();
        assert_eq!(
            kind_index_pk(u, "dataset"),
            "USER#01JDQ5Y8ZKXG2M4N6P8R0T2V4W#DOCKIND#dataset"
        );
        assert_eq!(version_sk("d", 7), "DOCV#d#00000007");
        assert_eq!(
            segment_blob(u, "d", 2),
            "users/01JDQ5Y8ZKXG2M4N6P8R0T2V4W/segments/d-00000002.seg"
        );
        assert_eq!(
            merged_segment_blob(u),
            "users/01JDQ5Y8ZKXG2M4N6P8R0T2V4W/segments/_merged.seg"
        );
        assert_eq!(
            text_blob(u, "d", 1),
            "users/01JDQ5Y8ZKXG2M4N6P8R0T2V4W/text/d/00000001.txt"
        );
        for blob in [
            content_blob(u, "h"),
            text_blob(u, "d", 1),
            segment_blob(u, "d", 1),
        ] {
            assert!(blob.starts_with(&u.blob_prefix()), "{blob}");
        }
        // Uploads wait under the one prefix the bucket's lifecycle rule expires, then the user's.
        assert_eq!(
            upload_blob(u, "d"),
            "uploads/users/01JDQ5Y8ZKXG2M4N6P8R0T2V4W/d"
        );
        assert!(upload_blob(u, "d").starts_with(&u.upload_prefix()));
    }
}
