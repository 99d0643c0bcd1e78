//! A statement as a file: CSV for spreadsheets (Italian conventions), JSON, and a printable page.

use actix_web::{
    HttpResponse, get,
    http::header::{self, ContentDisposition, DispositionParam, DispositionType},
    web,
};
use uuid::Uuid;

use super::{
    dto::{ExportFormat, ExportQuery, Statement, StatementCsv, StatementHtml},
    load::{authorize, find, render},
};
use crate::{
    auth::caller::Ctx,
    domain::{
        access::Action,
        service_record::{RecordStatus, ServiceUnit},
        statement::{Exclusion, StatementStatus},
        values::{MILLI, Money, to_milli},
    },
    error::ApiError,
    http::{etag, extract::ApiQuery},
    state::AppState,
};

/// Excel and LibreOffice read a UTF-8 file as such only when it starts with a byte order mark.
const BOM: &str = "\u{feff}";

const CSV_HEADER: [&str; 9] = [
    "Progetto",
    "Beneficiario (pseudonimo)",
    "Codice",
    "Prestazione",
    "Unità",
    "Prestazioni validate",
    "Quantità",
    "Tariffa (EUR)",
    "Importo (EUR)",
];

/// A unit's name in Italian.
fn unit_it(unit: ServiceUnit) -> &'static str {
    match unit {
        ServiceUnit::Hour => "ora",
        ServiceUnit::Trip => "viaggio",
        ServiceUnit::Km => "km",
        ServiceUnit::Access => "accesso",
    }
}

fn status_it(status: StatementStatus) -> &'static str {
    match status {
        StatementStatus::Draft => "bozza",
        StatementStatus::Submitted => "inviata",
        StatementStatus::Approved => "approvata",
    }
}

fn record_status_it(status: RecordStatus) -> &'static str {
    match status {
        RecordStatus::Recorded => "registrata",
        RecordStatus::Validated => "validata",
        RecordStatus::Rejected => "respinta",
        RecordStatus::ClarificationRequested => "chiarimenti richiesti",
        RecordStatus::Amended => "modificata",
    }
}

fn exclusion_it(exclusion: Exclusion) -> &'static str {
    match exclusion {
        Exclusion::Pending => "in attesa di revisione",
        Exclusion::Rejected => "respinta",
    }
}

/// Money with a decimal comma and no thousands separator: `1234,50`.
fn money_it(money: &Money) -> String {
    money.amount.replace('.', ",")
}

/// A quantity with a decimal comma and only the decimals it has: `18,5`, `2`, `0,333`.
fn quantity_it(quantity: f64) -> String {
    // The wire's f64 came from thousandths and goes back to them exactly.
    let milli = to_milli(quantity).unwrap_or_default();
    let sign = if milli < 0 { "-" } else { "" };
    let (units, fraction) = (
        milli.unsigned_abs() / MILLI as u64,
        milli.unsigned_abs() % MILLI as u64,
    );
    if fraction == 0 {
        format!("{sign}{units}")
    } else {
        let decimals = format!("{fraction:03}");
        format!("{sign}{units},{}", decimals.trim_end_matches('0'))
    }
}

/// A text cell that a spreadsheet will not run as a formula (CSV injection): a leading `'`
/// before `=`, `+`, `-`, `@`, tab or carriage return.
fn text_cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

/// The CSV file: UTF-8 with BOM, `;` separated, CRLF line ends, decimal comma; a header row,
/// one row per line, then a total row.
pub(super) fn to_csv(statement: &Statement) -> Result<StatementCsv, ApiError> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(BOM.as_bytes().to_vec());
    let failed = |e: csv::Error| anyhow::anyhow!("writing a statement's CSV: {e}");
    writer.write_record(CSV_HEADER).map_err(failed)?;
    for line in &statement.lines {
        writer
            .write_record([
                text_cell(&line.plan_title),
                text_cell(&line.beneficiary_pseudonym),
                text_cell(&line.service_type_code),
                text_cell(&line.service_type_name),
                unit_it(line.unit).to_owned(),
                line.records.to_string(),
                quantity_it(line.quantity),
                money_it(&line.tariff),
                money_it(&line.amount),
            ])
            .map_err(failed)?;
    }
    let mut total = vec![String::new(); CSV_HEADER.len()];
    total[0] = "Totale".to_owned();
    total[CSV_HEADER.len() - 1] = money_it(&statement.total);
    writer.write_record(&total).map_err(failed)?;
    let bytes = writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing a statement's CSV: {e}"))?;
    Ok(StatementCsv(String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!("a statement's CSV is not UTF-8: {e}")
    })?))
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

const PRINT_STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#111}\
table{border-collapse:collapse;width:100%;margin:1em 0}\
th,td{border:1px solid #999;padding:.3em .5em;text-align:left}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
tfoot td{font-weight:bold}\
@media print{body{margin:0}}";

/// The printable page: self-contained (inline style, no script, no external asset), every
/// value escaped.
pub(super) fn to_html(s: &Statement) -> StatementHtml {
    let mut rows = String::new();
    for l in &s.lines {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
            escape(&l.plan_title),
            escape(&l.beneficiary_pseudonym),
            escape(&l.service_type_code),
            escape(&l.service_type_name),
            unit_it(l.unit),
            l.records,
            quantity_it(l.quantity),
            money_it(&l.tariff),
            money_it(&l.amount),
        ));
    }
    let mut excluded = String::new();
    for x in &s.excluded_records {
        excluded.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{} {}</td></tr>\n",
            x.date.format("%d/%m/%Y"),
            escape(&x.plan_title),
            escape(&x.service_type_code),
            format_args!(
                "{} ({})",
                exclusion_it(x.exclusion),
                record_status_it(x.status)
            ),
            quantity_it(x.quantity),
            unit_it(x.unit),
        ));
    }
    let excluded = if excluded.is_empty() {
        "<p>Nessuna.</p>".to_owned()
    } else {
        format!(
            "<table><thead><tr><th>Data</th><th>Progetto</th><th>Codice</th><th>Stato</th><th class=\"n\">Quantità</th></tr></thead><tbody>\n{excluded}</tbody></table>"
        )
    };
    let reason = s
        .status_reason
        .as_deref()
        .map(|r| format!("<p>Motivo della riapertura: {}</p>", escape(r)))
        .unwrap_or_default();
    StatementHtml(format!(
        "<!DOCTYPE html>\n<html lang=\"it\"><head><meta charset=\"utf-8\">\
<title>Rendicontazione {month} - {provider}</title><style>{PRINT_STYLE}</style></head><body>\n\
<h1>Rendicontazione {month}</h1>\n\
<p>Ente erogatore: <strong>{provider}</strong><br>Comune: <strong>{municipality}</strong><br>\
Periodo: {from} - {to}<br>Stato: <strong>{status}</strong></p>\n{reason}\n\
<table><thead><tr><th>Progetto</th><th>Beneficiario</th><th>Codice</th><th>Prestazione</th><th>Unità</th>\
<th class=\"n\">Prestazioni validate</th><th class=\"n\">Quantità</th><th class=\"n\">Tariffa (EUR)</th><th class=\"n\">Importo (EUR)</th></tr></thead>\n\
<tbody>\n{rows}</tbody><tfoot><tr><td colspan=\"8\">Totale</td><td class=\"n\">{total}</td></tr></tfoot></table>\n\
<h2>Prestazioni non rendicontate</h2>\n{excluded}\n</body></html>\n",
        month = escape(&s.month),
        provider = escape(&s.provider_name),
        municipality = escape(&s.municipality_name),
        from = s.period_start.format("%d/%m/%Y"),
        to = s.period_end.format("%d/%m/%Y"),
        status = status_it(s.status),
        total = money_it(&s.total),
    ))
}

fn attachment(s: &Statement, extension: &str) -> ContentDisposition {
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(format!(
            "rendicontazione-{}-{}.{extension}",
            s.month, s.id
        ))],
    }
}

/// Exports a statement as a file: CSV for spreadsheets (UTF-8 with BOM, `;` separated, decimal
/// comma, a header row in Italian, one row per line and a total row) or JSON (the statement as
/// `GET /statements/{id}` answers it).
#[utoipa::path(
    tag = "statements",
    operation_id = "export_statement",
    params(("id" = Uuid, Path, description = "Statement id"), ExportQuery),
    responses(
        (status = 200, description = "The statement as a file (`Content-Disposition: attachment`).",
            content(
                (StatementCsv = "text/csv"),
                (Statement = "application/json"),
            ),
            headers(("Content-Disposition" = String, description = "attachment; filename=\"rendicontazione-<month>-<id>.csv\" (or .json)")),
        ),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/statements/{id}/export")]
pub(super) async fn export_statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let found = find(&state.db, &ctx, *id).await?;
    let body = render(&state.db, found).await?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::ETAG, etag(body.version)));
    Ok(match query.format.unwrap_or_default() {
        ExportFormat::Csv => response
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header(attachment(&body, "csv"))
            .body(to_csv(&body)?.0),
        ExportFormat::Json => response
            .insert_header(attachment(&body, "json"))
            .json(&body),
    })
}

/// A printable page of the statement (HTML, self-contained: print it or save it as PDF from
/// the browser).
#[utoipa::path(
    tag = "statements",
    operation_id = "print_statement",
    params(("id" = Uuid, Path, description = "Statement id")),
    responses(
        (status = 200, description = "The printable page.", content((StatementHtml = "text/html"))),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/statements/{id}/print")]
pub(super) async fn print_statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let found = find(&state.db, &ctx, *id).await?;
    let body = render(&state.db, found).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(body.version)))
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        // Nothing but the inline style may load or run, whatever a title contains.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(to_html(&body).0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_use_a_decimal_comma_and_keep_their_exact_decimals() {
        assert_eq!(quantity_it(18.5), "18,5");
        assert_eq!(quantity_it(2.0), "2");
        assert_eq!(quantity_it(0.333), "0,333");
        assert_eq!(quantity_it(1234.05), "1234,05");
        assert_eq!(money_it(&Money::from_cents(123_450)), "1234,50");
        assert_eq!(money_it(&Money::from_cents(5)), "0,05");
    }

    #[test]
    fn text_cells_cannot_become_formulas() {
        assert_eq!(text_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(text_cell("-1"), "'-1");
        assert_eq!(text_cell("Assistenza"), "Assistenza");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
