//! Test support (feature `test-support`): one-page PDFs built in memory with lopdf, for the
//! suites that feed PDFs to extraction, indexing and ingestion.

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, dictionary};

/// A one-page A4 PDF being built: Helvetica is `/F1` in the page's resources.
pub struct OnePagePdf {
    /// The document, for objects the page will name (`with_resource`).
    pub doc: Document,
    pages_id: ObjectId,
    resources: Dictionary,
}

impl Default for OnePagePdf {
    fn default() -> Self {
        Self::new()
    }
}

impl OnePagePdf {
    pub fn new() -> Self {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let resources = dictionary! { "Font" => dictionary! { "F1" => font_id } };
        OnePagePdf {
            doc,
            pages_id,
            resources,
        }
    }

    /// Names `object` in the page's resources: `with_resource("XObject", "Im1", image_id)`.
    pub fn with_resource(mut self, kind: &str, name: &str, object: ObjectId) -> Self {
        let mut entries = match self.resources.get(kind.as_bytes()) {
            Ok(Object::Dictionary(existing)) => existing.clone(),
            _ => Dictionary::new(),
        };
        entries.set(name, object);
        self.resources.set(kind, entries);
        self
    }

    /// A content stream showing `lines` in `/F1` from the top left, one under the other.
    pub fn text(lines: &[&str]) -> Stream {
        let mut operations = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 12.into()]),
            Operation::new("Td", vec![72.into(), 720.into()]),
        ];
        for line in lines {
            operations.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
            operations.push(Operation::new("Td", vec![0.into(), (-24).into()]));
        }
        operations.push(Operation::new("ET", vec![]));
        let content = Content { operations };
        Stream::new(dictionary! {}, content.encode().expect("operations encode"))
    }

    /// The finished document, its page showing `content`.
    pub fn document(mut self, content: Stream) -> Document {
        let content_id = self.doc.add_object(content);
        let page_id = self.doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => self.pages_id,
            "Contents" => content_id,
            "Resources" => self.resources,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        self.doc.objects.insert(
            self.pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            }),
        );
        let catalog_id = self
            .doc
            .add_object(dictionary! { "Type" => "Catalog", "Pages" => self.pages_id });
        self.doc.trailer.set("Root", catalog_id);
        self.doc
    }

    /// The finished file's bytes, its page showing `content`.
    pub fn bytes(self, content: Stream) -> Vec<u8> {
        let mut doc = self.document(content);
        let mut out = Vec::new();
        doc.save_to(&mut out).expect("an in-memory PDF saves");
        out
    }
}
