//! Reading the CBOR that cbor-x (automerge-repo's encoder) writes: maps with string keys, byte
//! strings for binary data, JS numbers as integers or floats, `undefined` for absent values.

use minicbor::Decoder;
use minicbor::data::{Tag, Type};

use super::error::DecodeError;

/// Deepest nesting followed when skipping an unknown field. Our messages nest three levels
/// (`newHeads` → storage id → `heads`); anything deeper is hostile.
const MAX_DEPTH: u32 = 16;

/// The typed-array tag cbor-x writes for a `Uint8Array` when `tagUint8Array` is on.
/// automerge-repo turns it off, but accepting it costs nothing and helps older peers.
const TAG_UINT8_ARRAY: u64 = 64;

/// True when the next value is `null` or `undefined` (consumed), which JS peers use for an
/// absent optional field.
pub(super) fn take_absent(d: &mut Decoder<'_>) -> Result<bool, DecodeError> {
    match d.datatype()? {
        Type::Null => d.null()?,
        Type::Undefined => d.undefined()?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// A text string.
pub(super) fn string(d: &mut Decoder<'_>, field: &'static str) -> Result<String, DecodeError> {
    match d.datatype()? {
        Type::String => Ok(d.str()?.to_owned()),
        _ => Err(DecodeError::InvalidField(field)),
    }
}

/// A boolean.
pub(super) fn boolean(d: &mut Decoder<'_>, field: &'static str) -> Result<bool, DecodeError> {
    match d.datatype()? {
        Type::Bool => Ok(d.bool()?),
        _ => Err(DecodeError::InvalidField(field)),
    }
}

/// A byte string, optionally under the typed-array tag.
pub(super) fn bytes(d: &mut Decoder<'_>, field: &'static str) -> Result<Vec<u8>, DecodeError> {
    if d.datatype()? == Type::Tag && d.tag()? != Tag::new(TAG_UINT8_ARRAY) {
        return Err(DecodeError::InvalidField(field));
    }
    match d.datatype()? {
        Type::Bytes => Ok(d.bytes()?.to_vec()),
        _ => Err(DecodeError::InvalidField(field)),
    }
}

/// A non-negative integral JS number: cbor-x writes integers up to 2^32 as CBOR integers and
/// larger ones (a millisecond timestamp) as float64.
pub(super) fn unsigned(d: &mut Decoder<'_>, field: &'static str) -> Result<u64, DecodeError> {
    match d.datatype()? {
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Ok(d.u64()?),
        Type::F16 | Type::F32 | Type::F64 => {
            let value = d.f64()?;
            // 2^53: beyond it a JS number is no longer an exact integer.
            let exact = value.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&value);
            if exact {
                // The range check above makes the conversion exact.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(value as u64)
            } else {
                Err(DecodeError::InvalidField(field))
            }
        }
        _ => Err(DecodeError::InvalidField(field)),
    }
}

/// The length of a definite-length map; cbor-x never writes indefinite ones for JS objects.
pub(super) fn map_len(d: &mut Decoder<'_>, field: &'static str) -> Result<u64, DecodeError> {
    match d.datatype()? {
        Type::Map => d.map()?.ok_or(DecodeError::InvalidField(field)),
        _ => Err(DecodeError::InvalidField(field)),
    }
}

/// The length of a definite-length array.
pub(super) fn array_len(d: &mut Decoder<'_>, field: &'static str) -> Result<u64, DecodeError> {
    match d.datatype()? {
        Type::Array => d.array()?.ok_or(DecodeError::InvalidField(field)),
        _ => Err(DecodeError::InvalidField(field)),
    }
}

/// An array of text strings. The declared length is never trusted for allocation: a hostile
/// length fails at the end of the input instead.
pub(super) fn strings(
    d: &mut Decoder<'_>,
    field: &'static str,
) -> Result<Vec<String>, DecodeError> {
    let len = array_len(d, field)?;
    let mut out = Vec::new();
    for _ in 0..len {
        out.push(string(d, field)?);
    }
    Ok(out)
}

/// Skips one value of an unknown field, following at most [`MAX_DEPTH`] levels of nesting.
/// Written here rather than using `Decoder::skip` so that hostile nesting is refused with an
/// error instead of growing a stack as deep as the frame is long.
pub(super) fn skip(d: &mut Decoder<'_>, depth: u32) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    match d.datatype()? {
        Type::Array | Type::ArrayIndef => match d.array()? {
            Some(len) => (0..len).try_for_each(|_| skip(d, depth + 1)),
            None => skip_until_break(d, depth, 1),
        },
        Type::Map | Type::MapIndef => match d.map()? {
            Some(len) => (0..len).try_for_each(|_| {
                skip(d, depth + 1)?;
                skip(d, depth + 1)
            }),
            None => skip_until_break(d, depth, 2),
        },
        Type::Tag => {
            d.tag()?;
            skip(d, depth + 1)
        }
        // A break outside an indefinite container is malformed; the library would skip it.
        Type::Break => Err(DecodeError::Cbor("unexpected break".into())),
        // Scalars, and strings of definite or indefinite length (flat): the library's skip
        // walks these without nesting.
        _ => Ok(d.skip()?),
    }
}

/// Skips the items of an indefinite-length array (`per_item` 1) or map (2) up to its break.
fn skip_until_break(d: &mut Decoder<'_>, depth: u32, per_item: u32) -> Result<(), DecodeError> {
    loop {
        if d.datatype()? == Type::Break {
            // Consume the break byte itself.
            d.skip()?;
            return Ok(());
        }
        for _ in 0..per_item {
            skip(d, depth + 1)?;
        }
    }
}
