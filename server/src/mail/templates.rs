//! The Italian text of every message, plain and HTML.
//!
//! Privacy (DESIGN.md §5b): a message says what happened and links into the app, where the
//! access rules apply. It never names the people assisted, never quotes a reviewer's note or a
//! record's notes, never shows a tax code: email leaves our control (forwarding, shared
//! mailboxes, providers' servers). Everything interpolated into HTML is escaped.

use chrono::{Datelike, NaiveDate};
use uuid::Uuid;

use crate::domain::service_record::ReviewReason;

/// A message's subject and bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The subject line.
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part.
    pub html: String,
}

/// The two review outcomes that call for the provider's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewOutcome {
    /// The record will not be paid.
    Rejected,
    /// The municipality asks for details.
    ClarificationRequested,
}

/// To the operator of a record and their coordinators: a record was rejected or sent back.
pub fn record_reviewed(
    public_url: &str,
    outcome: ReviewOutcome,
    record_id: Uuid,
    service_day: NaiveDate,
    reason: Option<ReviewReason>,
) -> Content {
    let day = italian_date(service_day);
    let (subject, what, ask) = match outcome {
        ReviewOutcome::Rejected => (
            "Prestazione respinta",
            format!("Una prestazione del {day} è stata respinta dall'assistente sociale."),
            "Apri la prestazione per leggere la motivazione e, se serve, correggerla.",
        ),
        ReviewOutcome::ClarificationRequested => (
            "Richiesta di chiarimenti su una prestazione",
            format!("L'assistente sociale chiede chiarimenti su una prestazione del {day}."),
            "Apri la prestazione per leggere la richiesta e rispondere correggendola.",
        ),
    };
    let mut paragraphs = vec![what];
    if let Some(reason) = reason {
        paragraphs.push(format!("Motivo: {}.", reason_label(reason)));
    }
    paragraphs.push(ask.to_owned());
    let link = format!("{public_url}/app/service-records/{record_id}");
    compose(subject, &paragraphs, "Apri la prestazione", &link)
}

/// To a provider: the municipality approved its statement of a month.
pub fn statement_approved(
    public_url: &str,
    statement_id: Uuid,
    municipality: &str,
    month: NaiveDate,
) -> Content {
    let month = italian_month(month);
    let paragraphs = vec![
        format!("La rendicontazione di {month} è stata approvata da {municipality}."),
        "Le prestazioni incluse sono ora bloccate; il dettaglio e gli importi sono \
         nell'applicazione."
            .to_owned(),
    ];
    let link = format!("{public_url}/app/statements/{statement_id}");
    compose(
        &format!("Rendicontazione di {month} approvata"),
        &paragraphs,
        "Apri la rendicontazione",
        &link,
    )
}

/// To a social worker: what waits for their review today.
/// `blocking` of the `pending` records have blocking automatic findings.
pub fn daily_digest(public_url: &str, day: NaiveDate, pending: u64, blocking: u64) -> Content {
    let count = if pending == 1 {
        "1 prestazione attende".to_owned()
    } else {
        format!("{pending} prestazioni attendono")
    };
    let mut paragraphs = vec![
        format!("Riepilogo del {}.", italian_date(day)),
        format!("Sui progetti che segui {count} la tua revisione."),
    ];
    paragraphs.push(match blocking {
        0 => "Nessuna ha anomalie bloccanti.".to_owned(),
        1 => "Una di queste ha anomalie bloccanti da esaminare.".to_owned(),
        n => format!("{n} di queste hanno anomalie bloccanti da esaminare."),
    });
    let link = format!("{public_url}/app/reviews");
    compose(
        &format!("Riepilogo: {count} la revisione"),
        &paragraphs,
        "Apri le prestazioni da esaminare",
        &link,
    )
}

const FOOTER: &str = "Messaggio automatico di Taccuino: per riservatezza non contiene dati \
                      delle persone assistite. Non rispondere a questo indirizzo.";

fn compose(subject: &str, paragraphs: &[String], action: &str, link: &str) -> Content {
    let mut text = String::from("Buongiorno,\n\n");
    for paragraph in paragraphs {
        text.push_str(paragraph);
        text.push_str("\n\n");
    }
    text.push_str(&format!("{action}: {link}\n\n-- \n{FOOTER}\n"));

    let mut html =
        String::from("<!DOCTYPE html>\n<html lang=\"it\"><head><meta charset=\"utf-8\"><title>");
    html.push_str(&escape(subject));
    html.push_str(
        "</title></head>\n<body style=\"font-family: sans-serif\">\n<p>Buongiorno,</p>\n",
    );
    for paragraph in paragraphs {
        html.push_str(&format!("<p>{}</p>\n", escape(paragraph)));
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>\n<hr>\n<p style=\"font-size: small; color: #555\">{}</p>\n\
         </body></html>\n",
        escape(link),
        escape(action),
        escape(FOOTER)
    ));
    Content {
        subject: format!("Taccuino: {subject}"),
        text,
        html,
    }
}

/// Escapes text for HTML content and double-quoted attributes.
fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn reason_label(reason: ReviewReason) -> &'static str {
    match reason {
        ReviewReason::QuantityMismatch => "quantità o durata non corrispondenti",
        ReviewReason::NotInPlan => "servizio non previsto dal progetto",
        ReviewReason::Duplicate => "prestazione duplicata",
        ReviewReason::MissingInformation => "informazioni mancanti",
        ReviewReason::Other => "altro (vedi la nota nell'applicazione)",
    }
}

const MONTHS: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];

fn italian_month(day: NaiveDate) -> String {
    // `month0` is 0..=11 by construction.
    let name = MONTHS
        .get(day.month0() as usize)
        .copied()
        .unwrap_or_default();
    format!("{name} {}", day.year())
}

fn italian_date(day: NaiveDate) -> String {
    day.format("%d/%m/%Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
    }

    #[test]
    fn a_rejection_says_what_happened_and_links_to_the_record() {
        let id = Uuid::new_v4();
        let content = record_reviewed(
            "https://taccuino.example",
            ReviewOutcome::Rejected,
            id,
            day(2026, 11, 22),
            Some(ReviewReason::Duplicate),
        );
        assert_eq!(content.subject, "Taccuino: Prestazione respinta");
        let link = format!("https://taccuino.example/app/service-records/{id}");
        for body in [&content.text, &content.html] {
            assert!(body.contains("22/11/2026"), "{body}");
            assert!(body.contains("prestazione duplicata"), "{body}");
            assert!(body.contains(&link), "{body}");
        }
        assert!(content.html.contains("<html lang=\"it\">"));
    }

    #[test]
    fn interpolated_text_is_escaped_in_html() {
        let content = statement_approved(
            "https://x.example/?a=1&b=\"2\"",
            Uuid::nil(),
            "Comune <di> Prova & Co",
            day(2026, 10, 1),
        );
        assert!(content.subject.contains("ottobre 2026"));
        assert!(content.html.contains("Comune &lt;di&gt; Prova &amp; Co"));
        assert!(
            content
                .html
                .contains("href=\"https://x.example/?a=1&amp;b=&quot;2&quot;")
        );
        assert!(!content.html.contains("<di>"));
        assert!(content.text.contains("Comune <di> Prova & Co"));
    }

    #[test]
    fn the_digest_counts_in_italian() {
        let one = daily_digest("http://h", day(2026, 11, 23), 1, 0);
        assert!(one.text.contains("1 prestazione attende"), "{}", one.text);
        assert!(one.text.contains("Nessuna ha anomalie bloccanti"));
        let many = daily_digest("http://h", day(2026, 11, 23), 12, 3);
        assert!(many.text.contains("12 prestazioni attendono"));
        assert!(many.text.contains("3 di queste hanno anomalie bloccanti"));
        assert!(many.subject.contains("12 prestazioni"));
        assert!(many.text.contains("http://h/app/reviews"));
    }
}
