//! Typed access to single fields of a map: the one place that knows how each Rust type is
//! stored, which automerge representations a reader accepts, and how a writer avoids writing
//! what is already there.

use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value, transaction::Transactable};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use uuid::Uuid;

use super::error::{SchemaError, join};

/// A field's value as read, before conversion to its Rust type.
#[derive(Debug)]
pub(crate) enum Raw {
    /// A scalar string or a collaborative Text object: JS writes a plain string as Text unless
    /// it wraps it in `ImmutableString`, so every string field accepts both.
    Str(String),
    /// Any other scalar (never `Str`, never `Null`).
    Scalar(ScalarValue),
}

/// A Rust type stored in one map field.
pub(crate) trait Field: Sized + PartialEq {
    /// What the schema expects, for error messages ("a string", "a number"...).
    const EXPECTED: &'static str;
    /// Converts what was read; `path` names the field in errors.
    fn from_raw(raw: Raw, path: &str) -> Result<Self, SchemaError>;
    /// The scalar a Rust writer stores; `path` names the field in errors.
    fn to_scalar(&self, path: &str) -> Result<ScalarValue, SchemaError>;
}

fn wrong_type(path: &str, expected: &'static str, found: &Raw) -> SchemaError {
    let found = match found {
        Raw::Str(_) => "a string",
        Raw::Scalar(s) => scalar_name(s),
    };
    SchemaError::WrongType {
        path: path.to_owned(),
        expected,
        found: found.to_owned(),
    }
}

fn scalar_name(s: &ScalarValue) -> &'static str {
    match s {
        ScalarValue::Bytes(_) => "bytes",
        ScalarValue::Str(_) => "a string",
        ScalarValue::Int(_) => "an int",
        ScalarValue::Uint(_) => "a uint",
        ScalarValue::F64(_) => "a float",
        ScalarValue::Counter(_) => "a counter",
        ScalarValue::Timestamp(_) => "an automerge timestamp",
        ScalarValue::Boolean(_) => "a boolean",
        ScalarValue::Unknown { .. } => "a value of an unknown type",
        ScalarValue::Null => "null",
    }
}

fn obj_name(t: ObjType) -> &'static str {
    match t {
        ObjType::Map => "a map",
        ObjType::Table => "a table",
        ObjType::List => "a list",
        ObjType::Text => "a text",
    }
}

impl Field for String {
    const EXPECTED: &'static str = "a string";
    fn from_raw(raw: Raw, path: &str) -> Result<Self, SchemaError> {
        match raw {
            Raw::Str(s) => Ok(s),
            other => Err(wrong_type(path, Self::EXPECTED, &other)),
        }
    }
    fn to_scalar(&self, _: &str) -> Result<ScalarValue, SchemaError> {
        Ok(ScalarValue::Str(self.as_str().into()))
    }
}

impl Field for Uuid {
    const EXPECTED: &'static str = "a UUID string";
    fn from_raw(raw: Raw, path: &str) -> Result<Self, SchemaError> {
        let s = String::from_raw(raw, path)?;
        Uuid::try_parse(&s).map_err(|_| SchemaError::invalid(path.to_owned(), "not a UUID"))
    }
    fn to_scalar(&self, _: &str) -> Result<ScalarValue, SchemaError> {
        Ok(ScalarValue::Str(self.hyphenated().to_string().into()))
    }
}

impl Field for DateTime<Utc> {
    const EXPECTED: &'static str = "an RFC 3339 timestamp string";
    fn from_raw(raw: Raw, path: &str) -> Result<Self, SchemaError> {
        let s = String::from_raw(raw, path)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| SchemaError::invalid(path.to_owned(), "not an RFC 3339 timestamp"))
    }
    fn to_scalar(&self, _: &str) -> Result<ScalarValue, SchemaError> {
        // AutoSi keeps every digit we have, so what we write reads back equal and a second
        // write of the same instant compares equal and is skipped.
        let s = self.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        Ok(ScalarValue::Str(s.into()))
    }
}

impl Field for NaiveDate {
    const EXPECTED: &'static str = "a YYYY-MM-DD date string";
    fn from_raw(raw: Raw, path: &str) -> Result<Self, SchemaError> {
        let s = String::from_raw(raw, path)?;
        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|_| SchemaError::invalid(path.to_owned(), "not a YYYY-MM-DD date"))
    }
    fn to_scalar(&self, _: &str) -> Result<ScalarValue, SchemaError> {
        Ok(ScalarValue::Str(self.format("%Y-%m-%d").to_string().into()))
    }
}

impl Field for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_raw(raw: Raw, path: &str) -> Result<Self, SchemaError> {
        // JS stores an integral number as Int and any other as F64: accept every numeric type.
        // Integers beyond 2^53 would round; no quantity, distance or allowance comes close.
        let n = match raw {
            Raw::Scalar(ScalarValue::F64(n)) => n,
            Raw::Scalar(ScalarValue::Int(n)) => n as f64,
            Raw::Scalar(ScalarValue::Uint(n)) => n as f64,
            other => return Err(wrong_type(path, Self::EXPECTED, &other)),
        };
        if n.is_finite() {
            Ok(n)
        } else {
            Err(SchemaError::invalid(path.to_owned(), "not a finite number"))
        }
    }
    fn to_scalar(&self, path: &str) -> Result<ScalarValue, SchemaError> {
        if self.is_finite() {
            Ok(ScalarValue::F64(*self))
        } else {
            Err(SchemaError::invalid(path.to_owned(), "not a finite number"))
        }
    }
}

impl Field for u64 {
    const EXPECTED: &'static str = "a non-negative integer";
    fn from_raw(raw: Raw, path: &str) -> Result<Self, SchemaError> {
        match raw {
            Raw::Scalar(ScalarValue::Uint(n)) => Ok(n),
            // JS writes integers as Int.
            Raw::Scalar(ScalarValue::Int(n)) => {
                u64::try_from(n).map_err(|_| SchemaError::invalid(path.to_owned(), "negative"))
            }
            other => Err(wrong_type(path, Self::EXPECTED, &other)),
        }
    }
    fn to_scalar(&self, _: &str) -> Result<ScalarValue, SchemaError> {
        Ok(ScalarValue::Uint(*self))
    }
}

impl Field for bool {
    const EXPECTED: &'static str = "a boolean";
    fn from_raw(raw: Raw, path: &str) -> Result<Self, SchemaError> {
        match raw {
            Raw::Scalar(ScalarValue::Boolean(b)) => Ok(b),
            other => Err(wrong_type(path, Self::EXPECTED, &other)),
        }
    }
    fn to_scalar(&self, _: &str) -> Result<ScalarValue, SchemaError> {
        Ok(ScalarValue::Boolean(*self))
    }
}

/// Reads `key` of `obj` as it is stored; `Ok(None)` when absent or `null` (JS clients clear an
/// optional field by setting it to `null`).
fn raw(
    doc: &impl ReadDoc,
    obj: &ObjId,
    parent: &str,
    key: &str,
    expected: &'static str,
) -> Result<Option<Raw>, SchemaError> {
    match doc.get(obj, key)? {
        None => Ok(None),
        Some((Value::Object(ObjType::Text), id)) => Ok(Some(Raw::Str(doc.text(&id)?))),
        Some((Value::Object(t), _)) => Err(SchemaError::WrongType {
            path: join(parent, key),
            expected,
            found: obj_name(t).to_owned(),
        }),
        Some((Value::Scalar(s), _)) => Ok(match s.into_owned() {
            ScalarValue::Null => None,
            ScalarValue::Str(s) => Some(Raw::Str(s.to_string())),
            other => Some(Raw::Scalar(other)),
        }),
    }
}

/// Reads an optional field.
pub(crate) fn get<T: Field>(
    doc: &impl ReadDoc,
    obj: &ObjId,
    parent: &str,
    key: &str,
) -> Result<Option<T>, SchemaError> {
    match raw(doc, obj, parent, key, T::EXPECTED)? {
        None => Ok(None),
        Some(r) => T::from_raw(r, &join(parent, key)).map(Some),
    }
}

/// Reads a required field.
pub(crate) fn require<T: Field>(
    doc: &impl ReadDoc,
    obj: &ObjId,
    parent: &str,
    key: &str,
) -> Result<T, SchemaError> {
    get(doc, obj, parent, key)?.ok_or_else(|| SchemaError::Missing {
        path: join(parent, key),
    })
}

/// Makes `key` hold `value` (`None`: absent), writing only when the stored value differs, so
/// writing the same thing twice makes no change and an unchanged field never overwrites a
/// concurrent edit from another device. A stored value of the wrong type is replaced.
pub(crate) fn set<T: Field>(
    doc: &mut impl Transactable,
    obj: &ObjId,
    parent: &str,
    key: &str,
    value: Option<&T>,
) -> Result<(), SchemaError> {
    if let Ok(current) = get::<T>(doc, obj, parent, key)
        && current.as_ref() == value
    {
        return Ok(());
    }
    match value {
        Some(v) => doc.put(obj, key, v.to_scalar(&join(parent, key))?)?,
        None => doc.delete(obj, key)?,
    }
    Ok(())
}

/// Makes `key` a collaborative Text holding `value`. An existing Text is edited with a diff
/// (`update_text`), so edits made on two devices merge character by character; anything else
/// (absent, a scalar string from `ImmutableString`) is replaced by a new Text.
pub(crate) fn set_text(
    doc: &mut impl Transactable,
    obj: &ObjId,
    key: &str,
    value: &str,
) -> Result<(), SchemaError> {
    if let Some((Value::Object(ObjType::Text), id)) = doc.get(obj, key)? {
        if doc.text(&id)? != value {
            doc.update_text(&id, value)?;
        }
        return Ok(());
    }
    let id = doc.put_object(obj, key, ObjType::Text)?;
    if !value.is_empty() {
        doc.splice_text(&id, 0, 0, value)?;
    }
    Ok(())
}

/// The map at `key`, `None` when absent; an error when something else is there.
pub(crate) fn get_map(
    doc: &impl ReadDoc,
    obj: &ObjId,
    parent: &str,
    key: &str,
) -> Result<Option<ObjId>, SchemaError> {
    match doc.get(obj, key)? {
        None => Ok(None),
        Some((Value::Object(ObjType::Map), id)) => Ok(Some(id)),
        Some((Value::Object(t), _)) => Err(SchemaError::WrongType {
            path: join(parent, key),
            expected: "a map",
            found: obj_name(t).to_owned(),
        }),
        Some((Value::Scalar(s), _)) => Err(SchemaError::WrongType {
            path: join(parent, key),
            expected: "a map",
            found: scalar_name(&s).to_owned(),
        }),
    }
}

/// The map at `key`, created when absent or when something else is there. An existing map is
/// reused, never replaced: replacing it would drop the fields other writers put in it.
pub(crate) fn ensure_map(
    doc: &mut impl Transactable,
    obj: &ObjId,
    key: &str,
) -> Result<ObjId, SchemaError> {
    match doc.get(obj, key)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Ok(doc.put_object(obj, key, ObjType::Map)?),
    }
}
