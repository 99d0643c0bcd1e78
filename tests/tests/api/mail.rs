//! Email notifications (docs/mail.md): a real SMTP server (aiosmtpd) on loopback receives what
//! the server sends; each story runs on SQLite and on PostgreSQL.
//!
//! The sink's port is only known at run time, so these stories are plain tests per backend
//! (the `both!` macro below) instead of `story!`.

use std::time::Duration;

use serde_json::json;
use taccuino_tests::{
    Backend, Session, TestApp, demo, env, fixtures::Demo, smtp::Received, smtp::SmtpSink,
    spawn_app_with,
};

/// Declares `mod $name { sqlite, postgres }` running `$story(backend)`.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(taccuino_tests::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(taccuino_tests::Backend::Postgres).await;
            }
        }
    };
}

const WAIT: Duration = Duration::from_secs(30);
const SENDER: &str = "noreply@comune-melegnano.example";

/// A server sending through `sink`, with quick retries and polls, no digest scheduler unless
/// `extra` asks for one.
async fn app_with_sink(backend: Backend, sink: &SmtpSink, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = sink.settings();
    settings.push((
        "TACCUINO_MAIL_FROM".to_owned(),
        format!("Taccuino <{SENDER}>"),
    ));
    settings.push(("TACCUINO_MAIL_RETRY_SECONDS".to_owned(), "1".to_owned()));
    settings.push(("TACCUINO_MAIL_POLL_SECONDS".to_owned(), "1".to_owned()));
    for (k, v) in extra {
        settings.push(((*k).to_owned(), (*v).to_owned()));
    }
    if !extra.iter().any(|(k, _)| *k == "TACCUINO_MAIL_DIGEST_AT") {
        settings.push(("TACCUINO_MAIL_DIGEST_AT".to_owned(), "off".to_owned()));
    }
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    spawn_app_with(backend, env(&pairs)).await
}

/// A fresh record of `operatore@` on the Girasole plan, as the operator created it.
async fn new_record(operator: &Session, demo: &Demo) -> String {
    operator
        .post("/service-records", demo.visit(&demo.girasole_plan_id()))
        .await
        .expect(201)
        .id()
}

/// What must never appear in a message: the beneficiary's names and tax code, the record's
/// notes, the reviewer's note.
async fn secrets(worker: &Session, demo: &Demo, note: &str) -> Vec<String> {
    let person = worker
        .get(&format!(
            "/beneficiaries/{}",
            demo.girasole_beneficiary_id()
        ))
        .await
        .expect(200);
    let visit = demo.visit(&demo.girasole_plan_id());
    vec![
        person.str("given_name"),
        person.str("family_name"),
        person.str("tax_code"),
        visit["notes"].as_str().unwrap_or_default().to_owned(),
        note.to_owned(),
    ]
}

fn assert_clean(message: &Received, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !message.raw.contains(secret.as_str())
                && !message
                    .text
                    .as_deref()
                    .unwrap_or_default()
                    .contains(secret.as_str())
                && !message
                    .html
                    .as_deref()
                    .unwrap_or_default()
                    .contains(secret.as_str()),
            "{secret:?} leaked into {message:#?}"
        );
    }
}

fn recipients(messages: &[Received]) -> Vec<String> {
    let mut all: Vec<String> = messages.iter().map(|m| m.recipient().to_owned()).collect();
    all.sort();
    all
}

async fn count(app: &TestApp, sql: &str) -> usize {
    let rows = app.strings(sql).await;
    rows.first()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{sql} answered {rows:?}"))
}

both!(a_rejection_and_a_clarification_request_reach_the_operator_and_coordinator);
async fn a_rejection_and_a_clarification_request_reach_the_operator_and_coordinator(
    backend: Backend,
) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink, &[]).await;
    let demo = Demo::discover(&app).await;
    let worker = app.login(demo::SOCIAL_WORKER).await;
    let operator = app.login(demo::OPERATOR).await;
    let note = "Nota del riesame: la signora era ricoverata";
    let never = secrets(&worker, &demo, note).await;

    let id = new_record(&operator, &demo).await;
    let path = format!("/service-records/{id}");
    let etag = worker.get(&path).await.expect(200).etag();
    let rejected = worker
        .post_if_match(
            &format!("{path}/reject"),
            json!({"reason_code": "duplicate", "note": note}),
            &etag,
        )
        .await
        .expect(200);

    let messages = sink.wait_for(2, WAIT).await;
    assert_eq!(
        recipients(&messages),
        [demo::COORDINATOR, demo::OPERATOR],
        "{messages:#?}"
    );
    let link = format!("/app/service-records/{id}");
    for message in &messages {
        assert_eq!(message.mail_from, SENDER);
        assert_eq!(message.subject, "Taccuino: Prestazione respinta");
        assert_eq!(message.content_type, "multipart/alternative");
        let text = message.text.as_deref().expect("a text/plain part");
        let html = message.html.as_deref().expect("a text/html part");
        assert!(text.contains("è stata respinta"), "{text}");
        assert!(text.contains("prestazione duplicata"), "{text}");
        assert!(
            text.contains(&link) && html.contains(&link),
            "{text}\n{html}"
        );
        assert!(html.contains("<html lang=\"it\">"), "{html}");
        assert_clean(message, &never);
    }

    // Reopened (no message), then sent back for clarification: two more.
    let reopened = worker
        .post_if_match(&format!("{path}/reopen"), json!({}), &rejected.etag())
        .await
        .expect(200);
    worker
        .post_if_match(
            &format!("{path}/request-clarification"),
            json!({"reason_code": "missing_information", "note": note}),
            &reopened.etag(),
        )
        .await
        .expect(200);
    let messages = sink.wait_for(4, WAIT).await;
    let asked = &messages[2..];
    assert_eq!(recipients(asked), [demo::COORDINATOR, demo::OPERATOR]);
    for message in asked {
        assert_eq!(
            message.subject,
            "Taccuino: Richiesta di chiarimenti su una prestazione"
        );
        assert!(
            message
                .text
                .as_deref()
                .unwrap_or_default()
                .contains("informazioni mancanti")
        );
        assert_clean(message, &never);
    }

    // A validation tells nobody.
    let other = new_record(&operator, &demo).await;
    let other_path = format!("/service-records/{other}");
    let etag = worker.get(&other_path).await.expect(200).etag();
    worker
        .post_if_match(
            &format!("{other_path}/validate"),
            // The same visit twice is a likely duplicate: a blocking finding to set aside.
            json!({"override_reason": "Verificato con la cooperativa"}),
            &etag,
        )
        .await
        .expect(200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.messages().len(), 4, "{:#?}", sink.messages());
    assert_eq!(
        count(
            &app,
            "SELECT CAST(COUNT(*) AS TEXT) FROM mail_outbox WHERE sent_at IS NOT NULL"
        )
        .await,
        4
    );
}

both!(an_smtp_outage_delays_messages_but_never_blocks_or_loses_them);
async fn an_smtp_outage_delays_messages_but_never_blocks_or_loses_them(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink, &[]).await;
    let demo = Demo::discover(&app).await;
    let worker = app.login(demo::SOCIAL_WORKER).await;
    let operator = app.login(demo::OPERATOR).await;
    let id = new_record(&operator, &demo).await;
    let path = format!("/service-records/{id}");
    let etag = worker.get(&path).await.expect(200).etag();

    sink.stop();
    let started = std::time::Instant::now();
    worker
        .post_if_match(
            &format!("{path}/reject"),
            json!({"reason_code": "not_in_plan", "note": "Servizio non previsto"}),
            &etag,
        )
        .await
        .expect(200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the review waited for the mail server: {:?}",
        started.elapsed()
    );

    // The worker tries, fails, and keeps both messages with their attempts.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let tried = count(
            &app,
            "SELECT CAST(COUNT(*) AS TEXT) FROM mail_outbox WHERE sent_at IS NULL AND attempts > 0",
        )
        .await;
        if tried == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox was not tried: {tried}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let errors = app
        .strings("SELECT last_error FROM mail_outbox WHERE last_error IS NOT NULL")
        .await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    for error in &errors {
        assert!(error.starts_with("SMTP"), "{error}");
        assert!(!error.contains('@'), "an address in {error}");
    }
    assert!(sink.messages().is_empty());

    // The server comes back: each message arrives, once.
    sink.restart().await;
    let messages = sink.wait_for(2, Duration::from_secs(60)).await;
    assert_eq!(recipients(&messages), [demo::COORDINATOR, demo::OPERATOR]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        sink.messages().len(),
        2,
        "sent twice: {:#?}",
        sink.messages()
    );
    assert_eq!(
        count(
            &app,
            "SELECT CAST(COUNT(*) AS TEXT) FROM mail_outbox WHERE sent_at IS NULL"
        )
        .await,
        0
    );
}

both!(a_social_worker_gets_one_digest_a_day_with_what_waits_for_review);
async fn a_social_worker_gets_one_digest_a_day_with_what_waits_for_review(backend: Backend) {
    let sink = SmtpSink::start().await;
    // A digest time that has passed today: the server sends today's digests at start-up.
    let app = app_with_sink(backend, &sink, &[("TACCUINO_MAIL_DIGEST_AT", "00:00")]).await;
    let pending = |email: &str| {
        format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM service_records r \
             JOIN care_plans p ON p.id = r.care_plan_id JOIN users u ON u.id = p.social_worker_id \
             WHERE u.email = '{email}' AND r.status IN ('recorded', 'amended')"
        )
    };
    let workers = count(
        &app,
        "SELECT CAST(COUNT(DISTINCT u.id) AS TEXT) FROM service_records r \
         JOIN care_plans p ON p.id = r.care_plan_id JOIN users u ON u.id = p.social_worker_id \
         WHERE u.active AND u.role = 'social_worker' AND r.status IN ('recorded', 'amended')",
    )
    .await;
    let expected = count(&app, &pending(demo::SOCIAL_WORKER)).await;
    assert!(expected > 1, "the demo data has records to review");
    let blocking_sql = format!(
        "{} AND EXISTS (SELECT 1 FROM findings f \
         WHERE f.service_record_id = r.id AND f.severity = 'blocking')",
        pending(demo::SOCIAL_WORKER).replace("COUNT(*)", "COUNT(DISTINCT r.id)")
    );
    let blocking = count(&app, &blocking_sql).await;

    let messages = sink.wait_for(workers, WAIT).await;
    assert_eq!(messages.len(), workers, "{messages:#?}");
    let digest = messages
        .iter()
        .find(|m| m.recipient() == demo::SOCIAL_WORKER)
        .expect("a digest for assistente@");
    let text = digest.text.as_deref().expect("a text/plain part");
    assert!(
        text.contains(&format!(
            "{expected} prestazioni attendono la tua revisione"
        )),
        "{text}"
    );
    let blocking_line = match blocking {
        0 => "Nessuna ha anomalie bloccanti.".to_owned(),
        1 => "Una di queste ha anomalie bloccanti".to_owned(),
        n => format!("{n} di queste hanno anomalie bloccanti"),
    };
    assert!(
        text.contains(&blocking_line),
        "{blocking_line:?} not in {text}"
    );
    assert!(
        digest
            .html
            .as_deref()
            .unwrap_or_default()
            .contains("/app/reviews")
    );
    assert!(
        digest.subject.starts_with("Taccuino: Riepilogo"),
        "{}",
        digest.subject
    );

    // Another run the same day (a restart, another instance) sends nothing more.
    let restarted = app_config(&sink);
    let today = taccuino_server::mail::digest::italian_today();
    let written = taccuino_server::mail::digest::enqueue_digests(&app.db, &restarted, today)
        .await
        .expect("digests");
    assert_eq!(written, 0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.messages().len(), workers);
}

/// The configuration a second instance on the same database would have.
fn app_config(sink: &SmtpSink) -> taccuino_server::config::Config {
    let settings = sink.settings();
    taccuino_server::config::Config::from_lookup(true, |name| {
        settings
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("config")
}

both!(the_folder_transport_writes_eml_files);
async fn the_folder_transport_writes_eml_files(backend: Backend) {
    let folder = std::env::temp_dir().join(format!("taccuino-mail-{}", uuid::Uuid::new_v4()));
    let folder_setting = folder.display().to_string();
    let app = spawn_app_with(
        backend,
        env(&[
            ("TACCUINO_MAIL_TRANSPORT", "folder"),
            ("TACCUINO_MAIL_FOLDER", &folder_setting),
            ("TACCUINO_MAIL_DIGEST_AT", "off"),
        ]),
    )
    .await;
    let demo = Demo::discover(&app).await;
    let worker = app.login(demo::SOCIAL_WORKER).await;
    let operator = app.login(demo::OPERATOR).await;
    let id = new_record(&operator, &demo).await;
    let path = format!("/service-records/{id}");
    let etag = worker.get(&path).await.expect(200).etag();
    worker
        .post_if_match(
            &format!("{path}/request-clarification"),
            json!({"reason_code": "other", "note": "Chi era presente?"}),
            &etag,
        )
        .await
        .expect(200);

    let deadline = tokio::time::Instant::now() + WAIT;
    let files = loop {
        let files: Vec<_> = std::fs::read_dir(&folder)
            .map(|dir| {
                dir.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        if files.len() >= 2 {
            break files;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no .eml files: {files:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(files.len(), 2);
    let mut to = Vec::new();
    for file in &files {
        let eml = std::fs::read_to_string(file).expect("readable");
        assert!(eml.contains("multipart/alternative"), "{eml}");
        assert!(!eml.contains("Chi era presente"), "{eml}");
        to.extend(
            eml.lines()
                .filter_map(|l| l.strip_prefix("To: "))
                .map(str::to_owned),
        );
    }
    to.sort();
    assert_eq!(to, [demo::COORDINATOR, demo::OPERATOR]);
    let _ = std::fs::remove_dir_all(&folder);
}
