//! Compatibility: documents written by the JS client, by older and newer schema versions, and
//! garbage that must be reported without a panic.

use automerge::{
    AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, TextEncoding, transaction::Transactable,
};

use super::{OPERATOR, PLAN, SERVICE_TYPE, full_record, id};
use crate::schema::{DiaryRecord, DiaryView, PlanView, SchemaError, upsert_record};

/// What JS `doc.field = "..."` writes: a collaborative Text.
fn js_text(doc: &mut AutoCommit, obj: &ObjId, key: &str, s: &str) {
    let t = doc.put_object(obj, key, ObjType::Text).expect("text");
    doc.splice_text(&t, 0, 0, s).expect("splice");
}

/// A diary header as the JS client writes it: Int version, Text strings.
fn js_diary_header(version: i64) -> (AutoCommit, ObjId) {
    let mut doc = AutoCommit::new_with_encoding(TextEncoding::Utf16CodeUnit);
    doc.put(ROOT, "schema_version", version).expect("put");
    js_text(&mut doc, &ROOT, "kind", "diary");
    js_text(&mut doc, &ROOT, "care_plan_id", &PLAN.to_string());
    js_text(&mut doc, &ROOT, "operator_id", &OPERATOR.to_string());
    let records = doc
        .put_object(ROOT, "records", ObjType::Map)
        .expect("records");
    (doc, records)
}

#[test]
fn js_text_strings_and_int_numbers_read_like_rust_scalars() {
    let (mut doc, records) = js_diary_header(1);
    let rec = doc
        .put_object(&records, id(1).to_string(), ObjType::Map)
        .expect("rec");
    js_text(&mut doc, &rec, "service_type_id", &SERVICE_TYPE.to_string());
    js_text(&mut doc, &rec, "started_at", "2026-03-02T08:00:00.000Z");
    // Another offset, same instant: readers normalize to UTC.
    js_text(&mut doc, &rec, "ended_at", "2026-03-02T10:30:00.250+01:00");
    doc.put(&rec, "quantity", 1.5).expect("put");
    doc.put(&rec, "km", 12_i64).expect("put");
    js_text(&mut doc, &rec, "origin", "Via Roma 1");
    js_text(&mut doc, &rec, "destination", "Ospedale");
    doc.put(&rec, "latitude", 45.07).expect("put");
    doc.put(&rec, "longitude", 7.68).expect("put");
    js_text(&mut doc, &rec, "notes", "Tutto regolare, caffè offerto ☕");
    doc.put(&rec, "missed", false).expect("put");
    doc.put(&rec, "missed_reason", ScalarValue::Null)
        .expect("put");
    js_text(&mut doc, &rec, "recorded_at", "2026-03-02T09:31:00Z");

    let view = DiaryView::read(&doc).expect("read");
    assert!(view.problems.is_empty(), "{:?}", view.problems);
    assert_eq!(view.meta.care_plan_id, PLAN);
    assert_eq!(view.operator_id, OPERATOR);
    let mut expected = full_record();
    expected.km = Some(12.0);
    assert_eq!(view.records[0].fields, expected);

    // Our writer compares values, not representations: nothing to write.
    let heads = doc.get_heads();
    upsert_record(&mut doc, id(1), &expected).expect("upsert");
    assert_eq!(doc.get_heads(), heads);
}

#[test]
fn immutable_string_notes_read_and_become_text_on_edit() {
    let mut doc = super::super::new_diary(PLAN, OPERATOR).expect("diary");
    upsert_record(&mut doc, id(1), &full_record()).expect("upsert");
    let (_, records) = doc.get(ROOT, "records").expect("get").expect("records");
    let (_, rec) = doc
        .get(&records, id(1).to_string())
        .expect("get")
        .expect("rec");
    doc.put(&rec, "notes", "scalare").expect("put");
    let read = DiaryRecord::read(&doc, id(1))
        .expect("read")
        .expect("present");
    assert_eq!(read.fields.notes, "scalare");

    let mut edited = full_record();
    edited.notes = "scalare, poi modificato".into();
    upsert_record(&mut doc, id(1), &edited).expect("upsert");
    assert!(matches!(
        doc.get(&rec, "notes").expect("get"),
        Some((automerge::Value::Object(ObjType::Text), _))
    ));
    let read = DiaryRecord::read(&doc, id(1))
        .expect("read")
        .expect("present");
    assert_eq!(read.fields.notes, edited.notes);
}

#[test]
fn an_old_document_without_optional_fields_reads() {
    let (mut doc, records) = js_diary_header(1);
    let rec = doc
        .put_object(&records, id(1).to_string(), ObjType::Map)
        .expect("rec");
    doc.put(&rec, "service_type_id", SERVICE_TYPE.to_string())
        .expect("put");
    doc.put(&rec, "started_at", "2026-03-02T08:00:00Z")
        .expect("put");
    doc.put(&rec, "recorded_at", "2026-03-02T09:00:00Z")
        .expect("put");

    let rec = DiaryRecord::read(&doc, id(1))
        .expect("read")
        .expect("present");
    assert_eq!(rec.fields.notes, "");
    assert!(!rec.fields.missed);
    assert!(!rec.deleted);
    assert_eq!(rec.fields.ended_at, None);
    assert_eq!(rec.fields.position, None);

    // And our writer completes it in place.
    upsert_record(&mut doc, id(1), &full_record()).expect("upsert");
    let rec = DiaryRecord::read(&doc, id(1))
        .expect("read")
        .expect("present");
    assert_eq!(rec.fields, full_record());
}

#[test]
fn a_newer_document_reads_what_we_know_and_says_so() {
    let (mut doc, records) = js_diary_header(7);
    doc.put(ROOT, "sync_hints", "whatever").expect("put");
    let rec = doc
        .put_object(&records, id(1).to_string(), ObjType::Map)
        .expect("rec");
    doc.put(&rec, "service_type_id", SERVICE_TYPE.to_string())
        .expect("put");
    doc.put(&rec, "started_at", "2026-03-02T08:00:00Z")
        .expect("put");
    doc.put(&rec, "recorded_at", "2026-03-02T09:00:00Z")
        .expect("put");
    let future = doc.put_object(&rec, "photos", ObjType::List).expect("list");
    doc.insert(&future, 0, "photo-1").expect("insert");

    let view = DiaryView::read(&doc).expect("read");
    assert!(view.meta.is_newer_than_supported());
    assert_eq!(view.meta.schema_version, 7);
    assert_eq!(view.records.len(), 1);

    upsert_record(&mut doc, id(1), &full_record()).expect("upsert");
    let view = DiaryView::read(&doc).expect("read");
    assert_eq!(
        view.meta.schema_version, 7,
        "writers never lower the version"
    );
    assert_eq!(doc.length(&future), 1, "the unknown list is kept");
}

#[test]
fn garbage_headers_are_errors_naming_the_field() {
    let empty = AutoCommit::new();
    let err = DiaryView::read(&empty).expect_err("empty");
    assert!(matches!(err, SchemaError::Missing { ref path } if path == "kind"));
    assert!(PlanView::read(&empty).is_err());

    let cases: [(&str, ScalarValue); 4] = [
        ("kind", ScalarValue::Int(5)),
        ("kind", ScalarValue::Str("notebook".into())),
        ("schema_version", ScalarValue::Int(-1)),
        ("care_plan_id", ScalarValue::Str("xyz".into())),
    ];
    for (key, value) in cases {
        let (mut doc, _) = js_diary_header(1);
        doc.put(ROOT, key, value).expect("put");
        let err = DiaryView::read(&doc).expect_err("garbage");
        assert_eq!(err.path(), Some(key), "{err}");
        let message = err.to_string();
        assert!(
            !message.contains("notebook") && !message.contains("xyz"),
            "{message}"
        );
    }

    let (mut doc, _) = js_diary_header(1);
    doc.put_object(ROOT, "records", ObjType::List).expect("put");
    let err = DiaryView::read(&doc).expect_err("records is a list");
    assert!(
        matches!(err, SchemaError::WrongType { ref path, .. } if path == "records"),
        "{err}"
    );
}
