//! Plan documents: round trip, idempotent writes, reviews, forward compatibility.

use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, transaction::Transactable};

use super::{PLAN, day, id, plan_fields, ts};
use crate::DocumentKind;
use crate::schema::{PlanView, Review, new_plan, write_plan, write_review};

fn plan() -> AutoCommit {
    new_plan(PLAN, &plan_fields()).expect("new plan")
}

fn review() -> Review {
    Review {
        status: "rejected".into(),
        reason_code: Some("quantity_mismatch".into()),
        note: Some("Durata oltre il piano".into()),
        reviewed_at: ts("2026-03-10T15:00:00Z"),
    }
}

#[test]
fn round_trip_through_save_and_load() {
    let mut doc = plan();
    write_review(&mut doc, id(1), &review()).expect("review");
    let loaded = crate::schema::load_document(&doc.save()).expect("load");
    let view = PlanView::read(&loaded).expect("read");
    assert_eq!(view.meta.kind, DocumentKind::Plan);
    assert_eq!(view.meta.care_plan_id, PLAN);
    assert_eq!(view.fields, plan_fields());
    assert_eq!(view.reviews.get(&id(1)), Some(&review()));
    assert!(view.problems.is_empty(), "{:?}", view.problems);
}

#[test]
fn writing_identical_fields_twice_makes_no_change() {
    let mut doc = plan();
    write_review(&mut doc, id(1), &review()).expect("review");
    let heads = doc.get_heads();
    write_plan(&mut doc, &plan_fields()).expect("write plan");
    write_review(&mut doc, id(1), &review()).expect("write review");
    assert_eq!(doc.pending_ops(), 0);
    assert_eq!(doc.get_heads(), heads);
}

#[test]
fn edits_are_applied_in_place_and_removed_services_go() {
    let mut doc = plan();
    write_review(&mut doc, id(1), &review()).expect("review");
    // Fields a newer server wrote.
    let (_, ben) = doc.get(ROOT, "beneficiary").expect("get").expect("ben");
    doc.put(&ben, "preferred_language", "it").expect("put");

    let mut fields = plan_fields();
    fields.status = "suspended".into();
    fields.beneficiary.phone = None;
    fields.valid_to = day("2026-06-30");
    fields.planned_services.remove(&id(0x4002));
    if let Some(s) = fields.planned_services.get_mut(&id(0x4001)) {
        s.allowance = 4.0;
    }
    write_plan(&mut doc, &fields).expect("write");

    let view = PlanView::read(&doc).expect("read");
    assert_eq!(view.fields, fields);
    assert_eq!(view.reviews.len(), 1, "reviews are untouched");
    assert!(doc.get(&ben, "preferred_language").expect("get").is_some());

    let mut outcome = review();
    outcome.status = "validated".into();
    outcome.reason_code = None;
    outcome.note = None;
    write_review(&mut doc, id(1), &outcome).expect("review");
    let view = PlanView::read(&doc).expect("read");
    assert_eq!(view.reviews.get(&id(1)), Some(&outcome));
}

#[test]
fn a_malformed_review_is_reported_and_the_plan_still_reads() {
    let mut doc = plan();
    write_review(&mut doc, id(1), &review()).expect("review");
    write_review(&mut doc, id(2), &review()).expect("review");
    let (_, reviews) = doc.get(ROOT, "reviews").expect("get").expect("reviews");
    let (_, r2) = doc
        .get(&reviews, id(2).to_string())
        .expect("get")
        .expect("r2");
    doc.put_object(&r2, "reviewed_at", ObjType::List)
        .expect("put");

    let view = PlanView::read(&doc).expect("read");
    assert_eq!(
        view.reviews.keys().copied().collect::<Vec<_>>(),
        vec![id(1)]
    );
    assert_eq!(view.problems.len(), 1);
    let expected = format!("reviews.{}.reviewed_at", id(2));
    assert_eq!(view.problems[0].error.path(), Some(expected.as_str()));
}

#[test]
fn a_non_finite_allowance_is_refused_before_any_write() {
    let mut doc = plan();
    let heads = doc.get_heads();
    let mut fields = plan_fields();
    fields.status = "closed".into();
    if let Some(s) = fields.planned_services.get_mut(&id(0x4001)) {
        s.allowance = f64::INFINITY;
    }
    assert!(write_plan(&mut doc, &fields).is_err());
    assert_eq!(doc.pending_ops(), 0);
    assert_eq!(doc.get_heads(), heads);
}
