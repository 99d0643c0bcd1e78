//! A diary record and a service record's [`Content`] are the same facts in two shapes: the
//! projection reads one from the other, and REST writes go the other way.

use chrono::{DateTime, Utc};
use taccuino_sync::schema::{MissedReason as DiaryMissedReason, Position, RecordFields};

use crate::domain::{
    FieldError,
    record_content::{Content, NOTE_MAX, PLACE_MAX, instant},
    service_record::MissedReason,
    values::{MILLI, to_milli},
};

/// The content a diary record states, or the first field that cannot be stored.
pub fn content_of(fields: &RecordFields) -> Result<Content, FieldError> {
    let milli = |field: &str, value: Option<f64>| match value {
        None => Ok(None),
        Some(v) => to_milli(v)
            .map(Some)
            .ok_or_else(|| FieldError::new(field, "not a storable number")),
    };
    let text = |field: &str, value: Option<&str>, max: usize| match value {
        Some(v) if v.chars().count() > max => Err(FieldError::new(
            field,
            format!("longer than {max} characters"),
        )),
        Some(v) if !v.is_empty() => Ok(Some(v.to_owned())),
        _ => Ok(None),
    };
    Ok(Content {
        service_type_id: fields.service_type_id,
        started_at: instant(fields.started_at),
        ended_at: fields.ended_at.map(instant),
        quantity_milli: milli("quantity", fields.quantity)?,
        km_milli: milli("km", fields.km)?,
        origin: text("origin", fields.origin.as_deref(), PLACE_MAX)?,
        destination: text("destination", fields.destination.as_deref(), PLACE_MAX)?,
        latitude: fields.position.map(|p| p.latitude),
        longitude: fields.position.map(|p| p.longitude),
        notes: text("notes", Some(&fields.notes), NOTE_MAX)?,
        missed: fields.missed,
        missed_reason: fields
            .missed_reason
            .map(|r| MissedReason::parse(r.as_str()))
            .unwrap_or(None),
    })
}

/// The diary fields stating `content`, recorded at `recorded_at`.
pub fn fields_of(content: &Content, recorded_at: DateTime<Utc>) -> RecordFields {
    let number = |milli: Option<i64>| milli.map(|m| m as f64 / MILLI as f64);
    RecordFields {
        service_type_id: content.service_type_id,
        started_at: content.started_at,
        ended_at: content.ended_at,
        quantity: number(content.quantity_milli),
        km: number(content.km_milli),
        origin: content.origin.clone(),
        destination: content.destination.clone(),
        position: match (content.latitude, content.longitude) {
            (Some(latitude), Some(longitude)) => Some(Position {
                latitude,
                longitude,
            }),
            _ => None,
        },
        notes: content.notes.clone().unwrap_or_default(),
        missed: content.missed,
        missed_reason: content
            .missed_reason
            .and_then(|r| DiaryMissedReason::from_code(r.as_str())),
        recorded_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn fields() -> RecordFields {
        RecordFields {
            service_type_id: Uuid::from_u128(7),
            started_at: "2026-11-20T08:00:00.123456789Z".parse().expect("time"),
            ended_at: Some("2026-11-20T10:30:00Z".parse().expect("time")),
            quantity: None,
            km: Some(12.5),
            origin: Some("Via Roma 1".into()),
            destination: None,
            position: Some(Position {
                latitude: 45.36,
                longitude: 9.32,
            }),
            notes: "Bagno assistito".into(),
            missed: false,
            missed_reason: None,
            recorded_at: "2026-11-20T10:31:00Z".parse().expect("time"),
        }
    }

    #[test]
    fn a_record_round_trips_through_content() {
        let original = fields();
        let content = content_of(&original).expect("storable");
        assert_eq!(content.km_milli, Some(12_500));
        assert_eq!(content.started_at.timestamp_subsec_nanos(), 123_456_000);
        let back = fields_of(&content, original.recorded_at);
        assert_eq!(content_of(&back).expect("storable"), content);
    }

    #[test]
    fn empty_notes_are_no_notes_and_oversized_text_names_its_field() {
        let mut f = fields();
        f.notes = String::new();
        assert_eq!(content_of(&f).expect("storable").notes, None);
        f.notes = "x".repeat(NOTE_MAX + 1);
        assert_eq!(content_of(&f).map_err(|e| e.field), Err("notes".to_owned()));
        let mut f = fields();
        f.km = Some(f64::MAX);
        assert_eq!(content_of(&f).map_err(|e| e.field), Err("km".to_owned()));
    }
}
