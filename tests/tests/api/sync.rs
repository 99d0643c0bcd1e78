//! Offline sync stories: devices recording without network, merging, reviews travelling back,
//! and the authority of each document (issue 5). Real WebSockets, real server, both databases.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use taccuino_sync::{
    DocumentKind,
    protocol::{Access, DocumentId},
    schema::RecordFields,
};
use taccuino_tests::{
    Session, TestApp, demo,
    device::{Device, DocOutcome, ListedDocument, my_documents},
    fixtures::Demo,
    story,
    sync_fixtures::{register_lacks, register_shows},
};
use uuid::Uuid;

const SYNC: Duration = Duration::from_secs(10);

/// A visit of one and a half hours yesterday morning, as a device records it.
fn visit(service_type_id: &str, notes: &str) -> RecordFields {
    let day = Utc::now().date_naive() - chrono::Duration::days(1);
    let at = |time: &str| -> DateTime<Utc> {
        format!("{day}T{time}Z").parse().expect("a valid instant")
    };
    RecordFields {
        service_type_id: service_type_id.parse().expect("a service type id"),
        started_at: at("09:00:00"),
        ended_at: Some(at("10:30:00")),
        quantity: None,
        km: None,
        origin: None,
        destination: None,
        position: None,
        notes: notes.to_owned(),
        missed: false,
        missed_reason: None,
        recorded_at: Utc::now(),
    }
}

fn find(documents: &[ListedDocument], kind: DocumentKind, plan: &str) -> Vec<ListedDocument> {
    documents
        .iter()
        .filter(|d| d.kind == kind && d.care_plan_id.to_string() == plan)
        .cloned()
        .collect()
}

/// The operator's diary and plan document of the demo's Girasole plan.
async fn operator_documents(operator: &Session, demo: &Demo) -> (DocumentId, DocumentId) {
    let documents = my_documents(operator).await;
    let plan = demo.girasole_plan_id();
    let diary = find(&documents, DocumentKind::Diary, &plan);
    let plan_doc = find(&documents, DocumentKind::Plan, &plan);
    assert_eq!(diary.len(), 1, "one diary of the operator on the plan");
    assert_eq!(plan_doc.len(), 1, "one plan document");
    assert_eq!(diary[0].access, Access::ReadWrite);
    assert_eq!(plan_doc[0].access, Access::ReadOnly);
    (diary[0].document_id, plan_doc[0].document_id)
}

/// Connects, syncs `documents`, disconnects; asserts every one synced.
async fn sync_now(device: &Device, app: &TestApp, session: &Session, documents: &[DocumentId]) {
    let mut connection = device.online(app, session).await;
    let report = connection.sync(documents, SYNC).await.expect("sync");
    assert!(report.all_synced(), "{report:?}");
    connection.close().await;
}

story!(
    offline_records_of_two_devices_and_a_coordinator_correction_merge_without_loss,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let coordinator = app.login(demo::COORDINATOR).await;
        let (diary, _) = operator_documents(&operator, &demo).await;

        let phone = Device::register(&operator, "Telefono").await;
        let tablet = Device::register(&operator, "Tablet").await;
        let office = Device::register(&coordinator, "Ufficio").await;
        for (device, session) in [
            (&phone, &operator),
            (&tablet, &operator),
            (&office, &coordinator),
        ] {
            sync_now(device, &app, session, &[diary]).await;
        }

        // Monday: the phone records a visit and syncs; the office sees it.
        let first = Uuid::new_v4();
        phone
            .record(diary, first, &visit(&demo.sad_id, "Bagno assistito"))
            .expect("record");
        sync_now(&phone, &app, &operator, &[diary]).await;
        sync_now(&office, &app, &coordinator, &[diary]).await;

        // Then everyone works offline: the phone adds to its notes, the coordinator corrects
        // the same notes, the tablet records another visit.
        phone
            .record(
                diary,
                first,
                &visit(&demo.sad_id, "Bagno assistito, cambio biancheria"),
            )
            .expect("edit");
        office
            .record(
                diary,
                first,
                &visit(&demo.sad_id, "[verificato] Bagno assistito"),
            )
            .expect("correction");
        let second = Uuid::new_v4();
        tablet
            .record(diary, second, &visit(&demo.tra_id, "Accompagnamento"))
            .expect("record");

        for (device, session) in [
            (&phone, &operator),
            (&tablet, &operator),
            (&office, &coordinator),
        ] {
            sync_now(device, &app, session, &[diary]).await;
        }

        // A new device gets everything, both edits of the notes merged character by character.
        let fresh = Device::register(&operator, "Nuovo telefono").await;
        sync_now(&fresh, &app, &operator, &[diary]).await;
        let view = fresh.diary(diary);
        let notes = view
            .records
            .iter()
            .find(|r| r.id == first)
            .map(|r| r.fields.notes.clone())
            .expect("the first visit");
        assert_eq!(notes, "[verificato] Bagno assistito, cambio biancheria");
        assert!(view.records.iter().any(|r| r.id == second));

        // The register has both, as the operator's, though the coordinator edited one.
        let row = register_shows(&coordinator, first, |r| {
            r["notes"] == "[verificato] Bagno assistito, cambio biancheria"
        })
        .await;
        assert_eq!(row["operator_id"], demo.operator_id.as_str());
        assert_eq!(row["quantity"], 1.5);
        let row = register_shows(&operator, second, |_| true).await;
        assert_eq!(row["service_type_id"], demo.tra_id.as_str());
    }
);

story!(
    a_review_reaches_the_device_and_an_amendment_goes_back_to_review,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let (diary, plan) = operator_documents(&operator, &demo).await;
        let phone = Device::register(&operator, "Telefono").await;
        sync_now(&phone, &app, &operator, &[diary, plan]).await;

        let id = Uuid::new_v4();
        phone
            .record(diary, id, &visit(&demo.sad_id, "Spesa e pranzo"))
            .expect("record");
        sync_now(&phone, &app, &operator, &[diary]).await;
        let row = register_shows(&worker, id, |r| r["status"] == "recorded").await;
        assert_eq!(row["source"], "sync");

        // The social worker validates it at her desk.
        let path = format!("/service-records/{id}");
        let etag = worker.get(&path).await.expect(200).etag();
        // The demo plan's week is already full: the visit passes the allowance, knowingly.
        let body = json!({"override_reason": "Accesso in più concordato con la famiglia"});
        worker
            .post_if_match(&format!("{path}/validate"), body, &etag)
            .await
            .expect(200);

        // On its next sync the phone shows the outcome.
        sync_now(&phone, &app, &operator, &[plan]).await;
        let review = phone
            .plan(plan)
            .reviews
            .get(&id)
            .cloned()
            .expect("the review in the plan document");
        assert_eq!(review.status, "validated");

        // The operator then changes the visit's end: it goes back to review.
        let mut amended = visit(&demo.sad_id, "Spesa e pranzo");
        amended.ended_at = amended.ended_at.map(|t| t + chrono::Duration::minutes(30));
        phone.record(diary, id, &amended).expect("amend");
        sync_now(&phone, &app, &operator, &[diary]).await;
        let row = register_shows(&worker, id, |r| r["status"] == "amended").await;
        assert_eq!(row["quantity"], 2.0);
        // ...and the phone shows it back in review.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            sync_now(&phone, &app, &operator, &[plan]).await;
            if phone.plan(plan).reviews.get(&id).map(|r| r.status.as_str()) == Some("amended") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the amendment never reached the plan document"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
);

story!(
    a_deleted_record_leaves_the_register_but_not_the_history,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let (diary, _) = operator_documents(&operator, &demo).await;
        let phone = Device::register(&operator, "Telefono").await;
        sync_now(&phone, &app, &operator, &[diary]).await;
        let id = Uuid::new_v4();
        phone
            .record(diary, id, &visit(&demo.sad_id, "Registrata per errore"))
            .expect("record");
        sync_now(&phone, &app, &operator, &[diary]).await;
        register_shows(&operator, id, |_| true).await;

        phone.tombstone(diary, id, Utc::now()).expect("tombstone");
        sync_now(&phone, &app, &operator, &[diary]).await;
        register_lacks(&operator, id).await;

        // Another device still sees the record, marked deleted.
        let tablet = Device::register(&operator, "Tablet").await;
        sync_now(&tablet, &app, &operator, &[diary]).await;
        let record = tablet
            .diary(diary)
            .records
            .into_iter()
            .find(|r| r.id == id)
            .expect("the tombstone");
        assert!(record.deleted);
    }
);

story!(
    records_sent_over_rest_reach_the_operators_diary,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let coordinator = app.login(demo::COORDINATOR).await;
        let (diary, _) = operator_documents(&operator, &demo).await;

        let mut body = demo.visit(&demo.girasole_plan_id());
        body["operator_id"] = json!(demo.operator_id);
        body["notes"] = json!("Inserita dal gestionale");
        let created = coordinator.post("/service-records", body).await.expect(201);
        let id: Uuid = created.id().parse().expect("uuid");

        let phone = Device::register(&operator, "Telefono").await;
        sync_now(&phone, &app, &operator, &[diary]).await;
        let record = phone
            .diary(diary)
            .records
            .into_iter()
            .find(|r| r.id == id)
            .expect("the record created over REST");
        assert_eq!(record.fields.notes, "Inserita dal gestionale");
        assert_eq!(created.body["source"], "api");
    }
);

story!(a_device_syncs_only_what_its_user_may, |app| async move {
    let demo = Demo::discover(&app).await;
    let operator = app.login(demo::OPERATOR).await;
    let coordinator = app.login(demo::COORDINATOR).await;
    let arcobaleno = app.login(demo::ARCOBALENO_OPERATOR).await;
    let (diary, plan) = operator_documents(&operator, &demo).await;

    // What the others may sync, from their own lists.
    let theirs = my_documents(&arcobaleno).await;
    let foreign_diary = theirs
        .iter()
        .find(|d| d.kind == DocumentKind::Diary)
        .map(|d| d.document_id)
        .expect("an Arcobaleno diary");
    let office = my_documents(&coordinator).await;
    let colleague_diary = office
        .iter()
        .find(|d| {
            d.kind == DocumentKind::Diary
                && d.operator_id.map(|o| o.to_string()) != Some(demo.operator_id.clone())
        })
        .map(|d| d.document_id)
        .expect("a colleague's diary");
    assert!(
        office
            .iter()
            .all(|d| d.care_plan_id.to_string() != demo.arcobaleno_plan_id())
    );
    assert!(
        find(&office, DocumentKind::Diary, &demo.girasole_plan_id())
            .iter()
            .all(|d| d.access == Access::ReadWrite)
    );
    let unknown = DocumentId::from(Uuid::new_v4());

    let phone = Device::register(&operator, "Telefono").await;
    let mut connection = phone.online(&app, &operator).await;
    let report = connection
        .sync(
            &[diary, plan, foreign_diary, colleague_diary, unknown],
            SYNC,
        )
        .await
        .expect("sync");
    assert!(report.is_synced(diary));
    assert!(report.is_synced(plan));
    // Another provider's diary, a colleague's diary and a document that does not exist
    // all look the same: unavailable.
    for id in [foreign_diary, colleague_diary, unknown] {
        assert!(report.is_unavailable(id), "{id}: {report:?}");
    }
    assert!(
        connection.unsolicited().is_empty(),
        "the server announced documents nobody asked for"
    );

    // The plan document is read-only: an edit on the phone never reaches the server.
    {
        let mut doc = phone.doc_mut(plan);
        use automerge::transaction::Transactable;
        doc.put(automerge::ROOT, "status", "closed")
            .expect("local edit");
    }
    let report = connection.sync(&[plan], SYNC).await.expect("sync");
    connection.close().await;
    assert!(
        matches!(report.outcome(plan), Some(DocOutcome::LocalChangesRefused)),
        "{report:?}"
    );
    let tablet = Device::register(&operator, "Tablet").await;
    sync_now(&tablet, &app, &operator, &[plan]).await;
    assert_eq!(tablet.plan(plan).fields.status, "active");

    // The coordinator's office syncs the colleague's diary.
    let desk = Device::register(&coordinator, "Ufficio").await;
    sync_now(&desk, &app, &coordinator, &[colleague_diary, diary, plan]).await;
});

story!(
    removing_an_operator_from_a_plan_stops_the_sync_of_its_documents_at_once,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let coordinator = app.login(demo::COORDINATOR).await;
        let (diary, plan) = operator_documents(&operator, &demo).await;
        let phone = Device::register(&operator, "Telefono").await;
        let mut connection = phone.online(&app, &operator).await;
        let report = connection.sync(&[diary, plan], SYNC).await.expect("sync");
        assert!(report.all_synced());

        // While the phone is connected, the coordinator takes the operator off the plan.
        let path = format!("/care-plans/{}", demo.girasole_plan_id());
        let current = coordinator.get(&path).await.expect(200);
        let others: Vec<_> = current.body["operator_ids"]
            .as_array()
            .expect("operator ids")
            .iter()
            .filter(|id| id.as_str() != Some(demo.operator_id.as_str()))
            .cloned()
            .collect();
        coordinator
            .put(
                &format!("{path}/operators"),
                json!({"operator_ids": others}),
                &current.etag(),
            )
            .await
            .expect(200);

        // A visit recorded now is not accepted: the same connection now finds the diary
        // unavailable, and the register never gets the record.
        let id = Uuid::new_v4();
        phone
            .record(diary, id, &visit(&demo.sad_id, "Dopo la revoca"))
            .expect("record");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let report = connection.sync(&[diary], SYNC).await.expect("sync");
            if report.is_unavailable(diary) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{report:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        connection.close().await;
        assert!(
            my_documents(&operator)
                .await
                .iter()
                .all(|d| d.care_plan_id.to_string() != demo.girasole_plan_id())
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        register_lacks(&coordinator, id).await;
    }
);

story!(
    a_revoked_device_is_disconnected_and_refused,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let (diary, _) = operator_documents(&operator, &demo).await;
        let phone = Device::register(&operator, "Telefono smarrito").await;
        let mut connection = phone.online(&app, &operator).await;
        assert!(
            connection
                .sync(&[diary], SYNC)
                .await
                .expect("sync")
                .all_synced()
        );

        // The phone is lost: its owner revokes it from another device.
        let revoked = operator
            .post(&format!("/devices/{}/revoke", phone.device_id), json!({}))
            .await
            .expect(200);
        assert!(revoked.body["revoked_at"].is_string());
        let closed = connection
            .wait_closed(Duration::from_secs(5))
            .await
            .expect("the open connection is closed");
        assert_eq!(closed.error.as_deref(), Some("device revoked"));
        Device::request_ticket(&operator, Some(phone.device_id), None)
            .await
            .expect_problem(409, "device-revoked");
        let devices = operator.get("/devices?revoked=true").await.expect(200);
        assert_eq!(devices.body["total"], 1);
    }
);

story!(
    rebuilding_the_projection_gives_back_the_same_register,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let (diary, _) = operator_documents(&operator, &demo).await;
        let phone = Device::register(&operator, "Telefono").await;
        sync_now(&phone, &app, &operator, &[diary]).await;
        let (kept, reviewed, deleted) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        for id in [kept, reviewed, deleted] {
            phone
                .record(diary, id, &visit(&demo.sad_id, "Visita"))
                .expect("record");
        }
        sync_now(&phone, &app, &operator, &[diary]).await;
        let row = register_shows(&worker, reviewed, |_| true).await;
        let etag = worker
            .get(&format!("/service-records/{reviewed}"))
            .await
            .etag();
        worker
            .post_if_match(
                &format!("/service-records/{reviewed}/reject"),
                json!({"reason_code": "duplicate", "note": "Doppia"}),
                &etag,
            )
            .await
            .expect(200);
        assert_eq!(row["status"], "recorded");
        phone
            .tombstone(diary, deleted, Utc::now())
            .expect("tombstone");
        sync_now(&phone, &app, &operator, &[diary]).await;
        register_lacks(&worker, deleted).await;
        register_shows(&worker, kept, |_| true).await;

        let before = snapshot(&app).await;
        let outcome = taccuino_server::sync::rebuild::rebuild_projections(&app.db)
            .await
            .expect("rebuild");
        assert_eq!(
            outcome.inserted + outcome.updated + outcome.deleted,
            0,
            "{outcome:?}"
        );
        assert_eq!(
            snapshot(&app).await,
            before,
            "a rebuild of a sound register changes nothing"
        );

        // Damage everything a row derives from its diary, drop a row, add a stray one: the
        // rebuild restores the register from the documents.
        use sea_orm::ConnectionTrait;
        app.db
            .execute_unprepared(
                "UPDATE service_records SET notes = 'x', quantity_milli = 0, ended_at = NULL, km_milli = 7",
            )
            .await
            .expect("damage");
        use sea_orm::EntityTrait;
        taccuino_server::db::entities::service_record::Entity::delete_by_id(kept)
            .exec(&app.db)
            .await
            .expect("drop a row");
        taccuino_server::sync::rebuild::rebuild_projections(&app.db)
            .await
            .expect("rebuild");
        let after = snapshot(&app).await;
        assert_eq!(after.len(), before.len());
        for (old, new) in before.iter().zip(&after) {
            assert_eq!(old.content, new.content, "record {}", old.id);
            if old.id != kept {
                assert_eq!(old.review, new.review, "record {}", old.id);
            }
        }
    }
);

/// What the register says about each record: the content derived from the diaries, and the
/// server's own review data.
#[derive(Debug, PartialEq)]
struct Row {
    id: Uuid,
    content: String,
    review: String,
}

async fn snapshot(app: &TestApp) -> Vec<Row> {
    use sea_orm::{EntityTrait, QueryOrder};
    use taccuino_server::db::entities::service_record;
    service_record::Entity::find()
        .order_by_asc(service_record::Column::Id)
        .all(&app.db)
        .await
        .expect("rows")
        .into_iter()
        .map(|m| Row {
            id: m.id,
            content: format!(
                "{} {} {} {:?} {} {:?} {:?} {:?} {:?} {:?} {:?} {} {:?}",
                m.care_plan_id,
                m.operator_id,
                m.service_type_id,
                m.ended_at,
                m.started_at,
                m.quantity_milli,
                m.km_milli,
                m.origin,
                m.destination,
                m.latitude,
                m.notes,
                m.missed,
                m.missed_reason
            ),
            review: format!(
                "{} {:?} {:?} {:?} {:?} {} {}",
                m.status,
                m.review_reason_code,
                m.review_note,
                m.reviewed_by,
                m.reviewed_at,
                m.source,
                m.received_at
            ),
        })
        .collect()
}

story!(
    a_plan_edit_reaches_the_plan_document_on_the_next_sync,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let (_, plan) = operator_documents(&operator, &demo).await;
        let phone = Device::register(&operator, "Telefono").await;
        sync_now(&phone, &app, &operator, &[plan]).await;

        let path = format!("/care-plans/{}", demo.girasole_plan_id());
        let etag = worker.get(&path).await.expect(200).etag();
        let new_end = taccuino_tests::fixtures::days_from_today(400);
        worker
            .patch(&path, json!({"valid_to": new_end}), &etag)
            .await
            .expect(200);

        sync_now(&phone, &app, &operator, &[plan]).await;
        assert_eq!(phone.plan(plan).fields.valid_to.to_string(), new_end);
    }
);

story!(
    a_storage_failure_closes_the_connection_and_the_device_sends_again_later,
    |app| async move {
        use sea_orm::ConnectionTrait;
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let (diary, _) = operator_documents(&operator, &demo).await;
        let phone = Device::register(&operator, "Telefono").await;
        sync_now(&phone, &app, &operator, &[diary]).await;

        // The chunk table disappears under the running server: nothing can be stored.
        app.db
            .execute_unprepared("ALTER TABLE sync_chunks RENAME TO sync_chunks_away")
            .await
            .expect("rename");
        let id = Uuid::new_v4();
        phone
            .record(diary, id, &visit(&demo.sad_id, "Durante il guasto"))
            .expect("record");
        let mut connection = phone.online(&app, &operator).await;
        let failed = connection.sync(&[diary], SYNC).await;
        let error = failed.expect_err("nothing may be acknowledged that was not stored");
        assert_eq!(error.error_text(), Some("storage error, retry later"));
        register_lacks(&operator, id).await;

        // Storage is back: the device's next sync delivers the record, once.
        app.db
            .execute_unprepared("ALTER TABLE sync_chunks_away RENAME TO sync_chunks")
            .await
            .expect("rename back");
        sync_now(&phone, &app, &operator, &[diary]).await;
        register_shows(&operator, id, |r| r["notes"] == "Durante il guasto").await;
        let tablet = Device::register(&operator, "Tablet").await;
        sync_now(&tablet, &app, &operator, &[diary]).await;
        let copies = tablet
            .diary(diary)
            .records
            .iter()
            .filter(|r| r.id == id)
            .count();
        assert_eq!(copies, 1);
    }
);

story!(
    many_changes_are_compacted_into_a_snapshot_that_still_loads,
    env = [("TACCUINO_SYNC_COMPACT_AFTER_CHUNKS", "4")],
    |app| async move {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        use taccuino_server::db::entities::sync_chunk;
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let (diary, _) = operator_documents(&operator, &demo).await;
        let phone = Device::register(&operator, "Telefono").await;
        sync_now(&phone, &app, &operator, &[diary]).await;
        let mut connection = phone.online(&app, &operator).await;
        let mut ids = Vec::new();
        for n in 0..12 {
            let id = Uuid::new_v4();
            phone
                .record(diary, id, &visit(&demo.sad_id, &format!("Visita {n}")))
                .expect("record");
            ids.push(id);
            assert!(
                connection
                    .sync(&[diary], SYNC)
                    .await
                    .expect("sync")
                    .all_synced()
            );
        }
        connection.close().await;

        let chunks = || async {
            sync_chunk::Entity::find()
                .filter(sync_chunk::Column::DocumentId.eq(diary.to_uuid()))
                .count(&app.db)
                .await
                .expect("count")
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while chunks().await > 5 {
            assert!(tokio::time::Instant::now() < deadline, "never compacted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let fresh = Device::register(&operator, "Tablet").await;
        sync_now(&fresh, &app, &operator, &[diary]).await;
        let view = fresh.diary(diary);
        assert!(
            ids.iter()
                .all(|id| view.records.iter().any(|r| r.id == *id))
        );
    }
);

story!(
    a_month_approved_in_a_statement_keeps_its_records_against_late_device_changes,
    |app| async move {
        use chrono::Datelike;
        use taccuino_server::domain::statement::Month;
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let coordinator = app.login(demo::COORDINATOR).await;
        let office = app.login(demo::ADMINISTRATIVE).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let (diary, _) = operator_documents(&operator, &demo).await;
        let phone = Device::register(&operator, "Telefono").await;
        sync_now(&phone, &app, &operator, &[diary]).await;

        // A visit of last month reaches the register...
        let days_ago = u64::from(Utc::now().day()) + 5;
        let id = Uuid::new_v4();
        let mut fields =
            taccuino_tests::sync_fixtures::visit(demo.sad_id.parse().expect("id"), days_ago);
        phone.record(diary, id, &fields).expect("record");
        sync_now(&phone, &app, &operator, &[diary]).await;
        let before = register_shows(&worker, id, |r| r["status"] == "recorded").await;

        // ...and the month is submitted and approved.
        let month = Month::of(fields.started_at);
        let draft = coordinator
            .post(
                "/statements",
                json!({"municipality_id": demo.municipality_id, "month": month.to_string()}),
            )
            .await
            .expect(201);
        let path = format!("/statements/{}", draft.id());
        let submitted = coordinator
            .post_if_match(&format!("{path}/submit"), json!({}), &draft.etag())
            .await
            .expect(200);
        let approved = office
            .post_if_match(&format!("{path}/approve"), json!({}), &submitted.etag())
            .await
            .expect(200);

        // The phone, offline since, changes the visit and removes nothing: the change stays in
        // its diary but the approved month's row does not move.
        fields.notes = "Nota aggiunta dopo l'approvazione".to_owned();
        phone.record(diary, id, &fields).expect("record");
        // A visit of today in the same upload shows when the projection has run.
        let today = Uuid::new_v4();
        phone
            .record(
                diary,
                today,
                &taccuino_tests::sync_fixtures::visit(demo.sad_id.parse().expect("id"), 0),
            )
            .expect("record");
        sync_now(&phone, &app, &operator, &[diary]).await;
        register_shows(&worker, today, |_| true).await;
        let after = worker
            .get(&format!("/service-records/{id}"))
            .await
            .expect(200);
        assert_eq!(after.body["notes"], before["notes"], "{after}");
        assert_eq!(after.body["version"], before["version"]);

        // A bulk validation leaves the month alone too, and says why.
        let (start, end) = month.bounds();
        let outcome = worker
            .post(
                "/reviews/bulk-validate",
                json!({"provider_id": demo.girasole_id, "from": start, "to": end}),
            )
            .await
            .expect(200);
        assert_eq!(outcome.body["validated"], json!([]), "{outcome}");
        let skipped = outcome.body["skipped"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ours = skipped
            .iter()
            .find(|s| s["id"] == id.to_string())
            .unwrap_or_else(|| panic!("our record is skipped: {outcome}"));
        assert_eq!(ours["reason"], "month_locked");

        // Reopening the statement unlocks the month: the change the phone made meanwhile
        // reaches the register without the phone sending anything again.
        office
            .post_if_match(
                &format!("{path}/reopen"),
                json!({"reason": "Correzione di una prestazione"}),
                &approved.etag(),
            )
            .await
            .expect(200);
        let amended = register_shows(&worker, id, |r| r["notes"] == fields.notes.as_str()).await;
        assert_eq!(amended["status"], "recorded", "{amended}");
    }
);
