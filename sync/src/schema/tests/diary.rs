//! Diary documents: round trip, concurrent edits, tombstones, malformed records.

use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, transaction::Transactable};

use super::{OPERATOR, PLAN, full_record, id, merge, missed_record, ts};
use crate::DocumentKind;
use crate::schema::{DiaryRecord, DiaryView, SchemaError, new_diary, tombstone, upsert_record};

fn diary() -> AutoCommit {
    new_diary(PLAN, OPERATOR).expect("new diary")
}

fn records_obj(doc: &AutoCommit) -> automerge::ObjId {
    match doc.get(ROOT, "records").expect("get") {
        Some((_, obj)) => obj,
        None => panic!("no records map"),
    }
}

#[test]
fn round_trip_through_save_and_load() {
    let mut doc = diary();
    upsert_record(&mut doc, id(1), &full_record()).expect("upsert");
    upsert_record(&mut doc, id(2), &missed_record()).expect("upsert");
    let loaded = crate::schema::load_document(&doc.save()).expect("load");

    let view = DiaryView::read(&loaded).expect("read");
    assert_eq!(view.meta.kind, DocumentKind::Diary);
    assert_eq!(view.meta.care_plan_id, PLAN);
    assert!(!view.meta.is_newer_than_supported());
    assert_eq!(view.operator_id, OPERATOR);
    assert!(view.problems.is_empty(), "{:?}", view.problems);
    assert_eq!(view.records.len(), 2);
    assert_eq!(view.records[0].id, id(1));
    assert_eq!(view.records[0].fields, full_record());
    assert!(!view.records[0].deleted);
    assert_eq!(view.records[1].fields, missed_record());
    let one = DiaryRecord::read(&loaded, id(2)).expect("read one");
    assert_eq!(one.map(|r| r.fields), Some(missed_record()));
    assert!(DiaryRecord::read(&loaded, id(9)).expect("read").is_none());
    assert_eq!(
        loaded.text_encoding(),
        automerge::TextEncoding::Utf16CodeUnit
    );
}

#[test]
fn upserting_the_same_fields_again_makes_no_change() {
    let mut doc = diary();
    upsert_record(&mut doc, id(1), &full_record()).expect("upsert");
    let heads = doc.get_heads();
    upsert_record(&mut doc, id(1), &full_record()).expect("upsert again");
    assert_eq!(doc.pending_ops(), 0);
    assert_eq!(doc.get_heads(), heads);
}

#[test]
fn clearing_optional_fields_removes_them() {
    let mut doc = diary();
    upsert_record(&mut doc, id(1), &full_record()).expect("upsert");
    let mut cleared = full_record();
    cleared.ended_at = None;
    cleared.position = None;
    cleared.km = None;
    upsert_record(&mut doc, id(1), &cleared).expect("upsert");
    let rec = DiaryRecord::read(&doc, id(1))
        .expect("read")
        .expect("present");
    assert_eq!(rec.fields, cleared);
}

#[test]
fn concurrent_records_on_two_devices_merge() {
    let mut phone = diary();
    let mut tablet = phone.fork();
    upsert_record(&mut phone, id(1), &full_record()).expect("upsert");
    upsert_record(&mut tablet, id(2), &missed_record()).expect("upsert");
    merge(&mut phone, &mut tablet);
    merge(&mut tablet, &mut phone);
    for doc in [&phone, &tablet] {
        let view = DiaryView::read(doc).expect("read");
        let ids: Vec<_> = view.records.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![id(1), id(2)]);
    }
    assert_eq!(phone.get_heads(), tablet.get_heads());
}

#[test]
fn concurrent_edits_of_different_fields_of_one_record_both_survive() {
    let mut phone = diary();
    let mut base = full_record();
    base.ended_at = None;
    upsert_record(&mut phone, id(1), &base).expect("upsert");
    let mut coordinator = phone.fork();

    let mut on_phone = base.clone();
    on_phone.ended_at = Some(ts("2026-03-02T10:00:00Z"));
    upsert_record(&mut phone, id(1), &on_phone).expect("phone edit");
    let mut on_coordinator = base.clone();
    on_coordinator.km = Some(20.0);
    upsert_record(&mut coordinator, id(1), &on_coordinator).expect("coordinator edit");

    merge(&mut phone, &mut coordinator);
    let rec = DiaryRecord::read(&phone, id(1))
        .expect("read")
        .expect("present");
    assert_eq!(rec.fields.ended_at, Some(ts("2026-03-02T10:00:00Z")));
    assert_eq!(rec.fields.km, Some(20.0));
}

#[test]
fn concurrent_notes_edits_merge_character_wise() {
    let mut phone = diary();
    let mut base = full_record();
    base.notes = "Visita regolare.".into();
    upsert_record(&mut phone, id(1), &base).expect("upsert");
    let mut coordinator = phone.fork();

    let mut on_phone = base.clone();
    on_phone.notes = "Visita regolare. Pressione ok 👍".into();
    upsert_record(&mut phone, id(1), &on_phone).expect("phone edit");
    let mut on_coordinator = base.clone();
    on_coordinator.notes = "Nota: Visita regolare.".into();
    upsert_record(&mut coordinator, id(1), &on_coordinator).expect("coordinator edit");

    merge(&mut phone, &mut coordinator);
    let rec = DiaryRecord::read(&phone, id(1))
        .expect("read")
        .expect("present");
    assert_eq!(rec.fields.notes, "Nota: Visita regolare. Pressione ok 👍");
}

#[test]
fn tombstone_survives_a_concurrent_edit() {
    let mut phone = diary();
    upsert_record(&mut phone, id(1), &full_record()).expect("upsert");
    let mut coordinator = phone.fork();

    tombstone(&mut phone, id(1), ts("2026-03-04T12:00:00Z")).expect("tombstone");
    let mut edited = full_record();
    edited.notes.push_str(" (corretto)");
    upsert_record(&mut coordinator, id(1), &edited).expect("edit");

    merge(&mut coordinator, &mut phone);
    let view = DiaryView::read(&coordinator).expect("read");
    assert_eq!(view.records.len(), 1, "a deleted record stays in the map");
    let rec = &view.records[0];
    assert!(rec.deleted);
    assert_eq!(rec.deleted_at, Some(ts("2026-03-04T12:00:00Z")));
    assert_eq!(rec.fields, edited);
}

#[test]
fn tombstone_keeps_the_first_time_and_needs_a_record() {
    let mut doc = diary();
    upsert_record(&mut doc, id(1), &full_record()).expect("upsert");
    tombstone(&mut doc, id(1), ts("2026-03-04T12:00:00Z")).expect("tombstone");
    let heads = doc.get_heads();
    tombstone(&mut doc, id(1), ts("2026-03-05T12:00:00Z")).expect("again");
    assert_eq!(doc.get_heads(), heads, "a second delete changes nothing");
    // An upsert does not resurrect it.
    upsert_record(&mut doc, id(1), &full_record()).expect("upsert");
    let rec = DiaryRecord::read(&doc, id(1))
        .expect("read")
        .expect("present");
    assert!(rec.deleted);
    assert_eq!(rec.deleted_at, Some(ts("2026-03-04T12:00:00Z")));

    let err = tombstone(&mut doc, id(2), ts("2026-03-05T12:00:00Z")).expect_err("no record");
    assert!(matches!(err, SchemaError::Missing { .. }), "{err}");
}

#[test]
fn a_malformed_record_is_reported_and_the_others_still_read() {
    let mut doc = diary();
    upsert_record(&mut doc, id(1), &full_record()).expect("upsert");
    upsert_record(&mut doc, id(2), &missed_record()).expect("upsert");
    upsert_record(&mut doc, id(3), &missed_record()).expect("upsert");
    let records = records_obj(&doc);
    // Record 2: a wrong-typed field. Record 3: half a position.
    let (_, rec2) = doc
        .get(&records, id(2).to_string())
        .expect("get")
        .expect("rec");
    doc.put(&rec2, "started_at", 42_i64).expect("put");
    let (_, rec3) = doc
        .get(&records, id(3).to_string())
        .expect("get")
        .expect("rec");
    doc.put(&rec3, "latitude", 45.0).expect("put");
    // Keys that are not canonical UUIDs, and an entry that is not a map.
    doc.put_object(&records, "not-a-uuid", ObjType::Map)
        .expect("put");
    doc.put_object(
        &records,
        id(0xabc4).to_string().to_uppercase(),
        ObjType::Map,
    )
    .expect("put");
    doc.put(&records, id(5).to_string(), "garbage")
        .expect("put");

    let view = DiaryView::read(&doc).expect("the diary still reads");
    let ids: Vec<_> = view.records.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![id(1)]);
    let mut paths: Vec<String> = view
        .problems
        .iter()
        .map(|p| p.error.path().unwrap_or_default().to_owned())
        .collect();
    paths.sort();
    let mut expected = vec![
        format!("records.{}", id(0xabc4).to_string().to_uppercase()),
        format!("records.{}", id(5)),
        format!("records.{}.started_at", id(2)),
        format!("records.{}.latitude", id(3)),
        "records.not-a-uuid".to_owned(),
    ];
    expected.sort();
    assert_eq!(paths, expected);
    let started = view
        .problems
        .iter()
        .find(|p| p.key == id(2).to_string())
        .expect("record 2 reported");
    assert!(
        matches!(&started.error, SchemaError::WrongType { found, .. } if found == "an int"),
        "{}",
        started.error
    );
}

#[test]
fn an_operator_written_into_a_record_is_ignored() {
    let mut doc = diary();
    upsert_record(&mut doc, id(1), &full_record()).expect("upsert");
    let records = records_obj(&doc);
    let (_, rec) = doc
        .get(&records, id(1).to_string())
        .expect("get")
        .expect("rec");
    doc.put(&rec, "operator_id", id(0x666).to_string())
        .expect("put");
    let view = DiaryView::read(&doc).expect("read");
    assert_eq!(view.operator_id, OPERATOR);
    assert_eq!(view.records[0].fields, full_record());
    assert!(view.problems.is_empty());
}

#[test]
fn unknown_fields_survive_an_upsert() {
    let mut doc = diary();
    upsert_record(&mut doc, id(1), &full_record()).expect("upsert");
    let records = records_obj(&doc);
    let (_, rec) = doc
        .get(&records, id(1).to_string())
        .expect("get")
        .expect("rec");
    // Fields a newer client added: a scalar, a nested map, and a new root field.
    doc.put(&rec, "signature_ref", "sig-1").expect("put");
    let extra = doc.put_object(&rec, "vitals", ObjType::Map).expect("put");
    doc.put(&extra, "bpm", 72_i64).expect("put");
    doc.put(ROOT, "device_prefs", true).expect("put");

    let mut edited = full_record();
    edited.km = Some(99.0);
    edited.notes = "Cambiato".into();
    upsert_record(&mut doc, id(1), &edited).expect("upsert");
    tombstone(&mut doc, id(1), ts("2026-03-04T12:00:00Z")).expect("tombstone");

    let str_of = |doc: &AutoCommit, obj: &automerge::ObjId, key: &str| match doc.get(obj, key) {
        Ok(Some((automerge::Value::Scalar(s), _))) => s.into_owned(),
        other => panic!("{key}: {other:?}"),
    };
    assert_eq!(
        str_of(&doc, &rec, "signature_ref"),
        ScalarValue::Str("sig-1".into())
    );
    assert_eq!(str_of(&doc, &extra, "bpm"), ScalarValue::Int(72));
    assert_eq!(
        str_of(&doc, &ROOT, "device_prefs"),
        ScalarValue::Boolean(true)
    );
    let rec = DiaryRecord::read(&doc, id(1))
        .expect("read")
        .expect("present");
    assert_eq!(rec.fields, edited);
}

#[test]
fn writers_refuse_a_document_of_the_other_kind() {
    let mut plan = crate::schema::new_plan(PLAN, &super::plan_fields()).expect("plan");
    let err = upsert_record(&mut plan, id(1), &full_record()).expect_err("not a diary");
    assert_eq!(err.path(), Some("kind"));
    assert!(DiaryView::read(&plan).is_err());
}

#[test]
fn an_out_of_range_position_is_refused_by_the_writer() {
    let mut doc = diary();
    let mut bad = full_record();
    bad.position = Some(crate::schema::Position {
        latitude: 123.0,
        longitude: 7.0,
    });
    let err = upsert_record(&mut doc, id(1), &bad).expect_err("refused");
    assert_eq!(
        err.path(),
        Some(format!("records.{}.latitude", id(1)).as_str())
    );
    let mut nan = full_record();
    nan.km = Some(f64::NAN);
    let err = upsert_record(&mut doc, id(1), &nan).expect_err("refused");
    assert_eq!(err.path(), Some(format!("records.{}.km", id(1)).as_str()));
}
