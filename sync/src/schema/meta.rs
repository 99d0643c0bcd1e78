//! The fields every document root carries: `schema_version`, `kind`, `care_plan_id`.

use automerge::{ObjId, ROOT, ReadDoc, transaction::Transactable};
use uuid::Uuid;

use super::error::SchemaError;
use super::value::{require, set};
use crate::{DocumentKind, SCHEMA_VERSION};

/// The header of a document: which schema wrote it, what it is, which care plan it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocMeta {
    /// The highest schema version any writer of this document knew.
    pub schema_version: u64,
    /// Plan or diary.
    pub kind: DocumentKind,
    /// The care plan the document belongs to.
    pub care_plan_id: Uuid,
}

impl DocMeta {
    /// Reads the header from the document root.
    pub fn read(doc: &impl ReadDoc) -> Result<Self, SchemaError> {
        let kind: String = require(doc, &ROOT, "", "kind")?;
        let kind = match kind.as_str() {
            "plan" => DocumentKind::Plan,
            "diary" => DocumentKind::Diary,
            _ => return Err(SchemaError::invalid("kind".into(), "not plan or diary")),
        };
        Ok(Self {
            schema_version: require(doc, &ROOT, "", "schema_version")?,
            kind,
            care_plan_id: require(doc, &ROOT, "", "care_plan_id")?,
        })
    }

    /// Whether a newer client wrote this document: what we read is still right, but there may
    /// be fields we do not know (kept untouched by our writers).
    pub fn is_newer_than_supported(&self) -> bool {
        self.schema_version > u64::from(SCHEMA_VERSION)
    }

    /// Reads the header and checks the document is of `kind`.
    pub(crate) fn read_expecting(
        doc: &impl ReadDoc,
        kind: DocumentKind,
    ) -> Result<Self, SchemaError> {
        let meta = Self::read(doc)?;
        if meta.kind == kind {
            Ok(meta)
        } else {
            Err(SchemaError::invalid(
                "kind".into(),
                format!("expected a {} document", kind.as_str()),
            ))
        }
    }

    /// Writes a new document's header.
    pub(crate) fn write_new(
        doc: &mut impl Transactable,
        kind: DocumentKind,
        care_plan_id: Uuid,
    ) -> Result<(), SchemaError> {
        let root: &ObjId = &ROOT;
        set(
            doc,
            root,
            "",
            "schema_version",
            Some(&u64::from(SCHEMA_VERSION)),
        )?;
        set(doc, root, "", "kind", Some(&kind.as_str().to_owned()))?;
        set(doc, root, "", "care_plan_id", Some(&care_plan_id))?;
        Ok(())
    }
}
