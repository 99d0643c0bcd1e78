//! `/beneficiaries`: the municipality's register of people in charge, minimized by role, and
//! their sensitive notes (social workers only, every read audited).

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set, SqlErr, TransactionTrait,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiJson, IfMatch, Page, created, list_envelope, ok_tagged, required_text, sort_by, text,
};
use crate::{
    auth::caller::Ctx,
    db::{
        self, audit,
        entities::{beneficiary, sensitive_note},
        scope,
    },
    domain::{
        FieldError,
        access::{self, Action, BeneficiaryView, Resource},
        beneficiary::{
            BeneficiaryStatus, check_identity, is_country_code, parse_sex, pseudonym, sex_code,
        },
        tax_code::{Sex, TaxCode},
    },
    error::ApiError,
    http::extract::ApiQuery,
    state::AppState,
};

/// Sex as encoded in the tax code (documentation of `domain::tax_code::Sex`'s wire form).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Sex)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum SexSchema {
    Male,
    Female,
}

/// A beneficiary, as much of it as the caller's role may see (data minimization).
///
/// Social workers get every field; provider staff (coordinators, operators) get what a visit
/// needs (`given_name`, `family_name`, `address`, `phone`, `access_notes`); administrative staff
/// get only the pseudonym and statistical attributes (`sex`, `birth_year`,
/// `residence_municipality`, `citizenship`). Fields the caller may not see are absent, never null.
#[derive(Debug, Serialize, ToSchema)]
pub struct Beneficiary {
    pub id: Uuid,
    /// Random pseudonym used in statistics and accounting.
    #[schema(max_length = 16, example = "B-K7QX2M9D")]
    pub pseudonym: String,
    /// Codice fiscale (full view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 16,
        pattern = "^[0-9A-Z]{16}$",
        example = "BNCNNA41E43F205R"
    )]
    pub tax_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "Anna")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "Bianchi")]
    pub family_name: Option<String>,
    /// Full view only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    /// Pseudonymous view only (the full view has `birth_date`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Int32, minimum = 1900, maximum = 2200)]
    pub birth_year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SexSchema>)]
    pub sex: Option<Sex>,
    /// Municipality of residence.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "Milano")]
    pub residence_municipality: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2, pattern = "^[A-Z]{2}$", example = "IT")]
    pub citizenship: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 300, example = "Via Roma 1, Milano")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 32, pattern = r"^[0-9 +]+$", example = "+39 02 1234567")]
    pub phone: Option<String>,
    /// How to get in (intercom, keys, dog...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub access_notes: Option<String>,
    pub status: BeneficiaryStatus,
    /// Incremented by every change; also the ETag (full view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Int32, minimum = 1)]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Beneficiary {
    /// The fields of `m` that `view` allows, and nothing else.
    pub fn view(m: beneficiary::Model, view: BeneficiaryView) -> Self {
        let status = BeneficiaryStatus::parse(&m.status).unwrap_or(BeneficiaryStatus::Active);
        let base = Self {
            id: m.id,
            pseudonym: m.pseudonym,
            tax_code: None,
            given_name: None,
            family_name: None,
            birth_date: None,
            birth_year: None,
            sex: None,
            residence_municipality: None,
            citizenship: None,
            address: None,
            phone: None,
            access_notes: None,
            status,
            version: None,
            created_at: None,
            updated_at: None,
        };
        match view {
            BeneficiaryView::Full => Self {
                tax_code: Some(m.tax_code),
                given_name: Some(m.given_name),
                family_name: Some(m.family_name),
                birth_date: Some(m.birth_date),
                sex: parse_sex(&m.sex),
                residence_municipality: Some(m.residence_municipality),
                citizenship: Some(m.citizenship),
                address: m.address,
                phone: m.phone,
                access_notes: m.access_notes,
                version: Some(m.version),
                created_at: Some(m.created_at),
                updated_at: Some(m.updated_at),
                ..base
            },
            BeneficiaryView::Visit => Self {
                given_name: Some(m.given_name),
                family_name: Some(m.family_name),
                address: m.address,
                phone: m.phone,
                access_notes: m.access_notes,
                ..base
            },
            BeneficiaryView::Pseudonymous => Self {
                sex: parse_sex(&m.sex),
                birth_year: Some(m.birth_date.year()),
                residence_municipality: Some(m.residence_municipality),
                citizenship: Some(m.citizenship),
                ..base
            },
        }
    }
}

list_envelope!(BeneficiaryList, Beneficiary, "A page of beneficiaries.");

/// A person taken in charge by the municipality.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBeneficiary {
    /// Codice fiscale; checked with its check character and against birth date and sex.
    #[schema(
        max_length = 16,
        pattern = "^[0-9A-Za-z]{16}$",
        example = "BNCNNA41E43F205R"
    )]
    pub tax_code: String,
    #[schema(max_length = 100, example = "Anna")]
    pub given_name: String,
    #[schema(max_length = 100, example = "Bianchi")]
    pub family_name: String,
    pub birth_date: NaiveDate,
    #[schema(value_type = SexSchema)]
    pub sex: Sex,
    /// Municipality of residence.
    #[schema(max_length = 100, example = "Milano")]
    pub residence_municipality: String,
    /// ISO 3166-1 alpha-2 country code.
    #[schema(max_length = 2, pattern = "^[A-Z]{2}$", example = "IT")]
    pub citizenship: String,
    #[schema(max_length = 300)]
    pub address: Option<String>,
    #[schema(max_length = 32, pattern = r"^[0-9 +]+$")]
    pub phone: Option<String>,
    #[schema(max_length = 500)]
    pub access_notes: Option<String>,
}

/// Changes to a beneficiary (JSON merge patch; `null` clears `address`, `phone`, `access_notes`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BeneficiaryPatch {
    #[schema(max_length = 16, pattern = "^[0-9A-Za-z]{16}$")]
    pub tax_code: Option<String>,
    #[schema(max_length = 100)]
    pub given_name: Option<String>,
    #[schema(max_length = 100)]
    pub family_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    #[schema(value_type = Option<SexSchema>)]
    pub sex: Option<Sex>,
    #[schema(max_length = 100)]
    pub residence_municipality: Option<String>,
    #[schema(max_length = 2, pattern = "^[A-Z]{2}$")]
    pub citizenship: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable, max_length = 300)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable, max_length = 32, pattern = r"^[0-9 +]+$")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable, max_length = 500)]
    pub access_notes: Option<Option<String>>,
    pub status: Option<BeneficiaryStatus>,
}

/// Tells an explicit `null` (`Some(None)`) from an absent member (`None`) in a merge patch.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Filters and paging of the beneficiary list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BeneficiaryQuery {
    /// Only beneficiaries in this status.
    pub status: Option<BeneficiaryStatus>,
    /// Only residents of this municipality (exact match).
    #[param(max_length = 100)]
    pub residence_municipality: Option<String>,
    /// Part of the given or family name, case-insensitive; not available to roles that see
    /// pseudonyms only (422).
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Sort order; `-` for descending. Roles that see pseudonyms only may not sort by name.
    #[param(pattern = "^-?(family_name|created_at|pseudonym)$", max_length = 12)]
    pub sort: Option<String>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0)]
    pub offset: Option<u64>,
}

/// What a sensitive note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteCategory {
    /// Social assessment (valutazione sociale).
    SocialAssessment,
    /// Health information.
    Health,
    /// Family situation.
    Family,
    /// Legal matters (guardianship, court orders).
    Legal,
    /// Anything else.
    Other,
}

impl NoteCategory {
    /// The value stored in the database and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SocialAssessment => "social_assessment",
            Self::Health => "health",
            Self::Family => "family",
            Self::Legal => "legal",
            Self::Other => "other",
        }
    }

    /// Parses a stored value.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::SocialAssessment,
            Self::Health,
            Self::Family,
            Self::Legal,
            Self::Other,
        ]
        .into_iter()
        .find(|c| c.as_str() == value)
    }
}

/// A health or social note about a beneficiary: social workers only, every read is audited.
#[derive(Debug, Serialize, ToSchema)]
pub struct SensitiveNote {
    pub id: Uuid,
    pub beneficiary_id: Uuid,
    /// The social worker who wrote it.
    pub author_id: Uuid,
    pub category: NoteCategory,
    #[schema(max_length = 10000)]
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl From<sensitive_note::Model> for SensitiveNote {
    fn from(m: sensitive_note::Model) -> Self {
        Self {
            id: m.id,
            beneficiary_id: m.beneficiary_id,
            author_id: m.author_id,
            category: NoteCategory::parse(&m.category).unwrap_or(NoteCategory::Other),
            body: m.body,
            created_at: m.created_at,
        }
    }
}

list_envelope!(
    SensitiveNoteList,
    SensitiveNote,
    "A page of sensitive notes, newest first."
);

/// A new sensitive note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSensitiveNote {
    pub category: NoteCategory,
    #[schema(min_length = 1, max_length = 10000)]
    pub body: String,
}

/// Paging of the sensitive notes.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SensitiveNoteQuery {
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0)]
    pub offset: Option<u64>,
}

fn authorize(ctx: &Ctx, resource: Resource, action: Action) -> Result<(), ApiError> {
    access::allows(&ctx.caller, resource, action)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

fn check_phone(field: &str, value: &Option<String>, errors: &mut Vec<FieldError>) {
    if value.as_ref().is_some_and(|v| {
        !v.chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '+')
    }) {
        errors.push(FieldError::new(
            field,
            "may contain only digits, spaces and +",
        ));
    }
}

fn check_citizenship(value: &str, errors: &mut Vec<FieldError>) {
    if !is_country_code(value) {
        errors.push(FieldError::new(
            "citizenship",
            "must be an ISO 3166-1 alpha-2 country code in capitals, e.g. IT",
        ));
    }
}

fn parse_tax_code(value: &str, errors: &mut Vec<FieldError>) -> Option<TaxCode> {
    TaxCode::parse(value)
        .map_err(|err| errors.push(FieldError::new("tax_code", err.to_string())))
        .ok()
}

/// A `LIKE` pattern matching `q` anywhere, with the wildcards in `q` taken literally.
fn contains_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn name_contains(q: &str) -> Condition {
    let pattern = contains_pattern(q);
    let like = |column: beneficiary::Column| {
        Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern.clone()).escape('\\'))
    };
    Condition::any()
        .add(like(beneficiary::Column::FamilyName))
        .add(like(beneficiary::Column::GivenName))
}

fn duplicate_tax_code() -> ApiError {
    ApiError::Conflict {
        code: "duplicate-tax-code",
        detail: "A beneficiary with this tax code is already registered in your municipality."
            .to_owned(),
    }
}

/// Turns a unique violation on insert/update into the duplicate tax code conflict.
fn map_unique(err: sea_orm::DbErr) -> ApiError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => duplicate_tax_code(),
        _ => err.into(),
    }
}

async fn tax_code_taken(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    tax_code: &str,
    except: Option<Uuid>,
) -> Result<bool, ApiError> {
    let mut select = beneficiary::Entity::find()
        .filter(beneficiary::Column::MunicipalityId.eq(municipality_id))
        .filter(beneficiary::Column::TaxCode.eq(tax_code));
    if let Some(id) = except {
        select = select.filter(beneficiary::Column::Id.ne(id));
    }
    Ok(select.one(db).await?.is_some())
}

/// Lists the beneficiaries visible to the caller, with the fields the caller's role may see.
#[utoipa::path(
    tag = "beneficiaries",
    operation_id = "list_beneficiaries",
    params(BeneficiaryQuery),
    responses((status = 200, description = "A page of beneficiaries.", body = BeneficiaryList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/beneficiaries")]
pub async fn list_beneficiaries(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<BeneficiaryQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::Beneficiaries, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    let view = access::beneficiary_view(&ctx.caller);
    let pseudonymous = view == BeneficiaryView::Pseudonymous;
    let mut select = beneficiary::Entity::find()
        .filter(scope::beneficiaries(access::beneficiary_scope(&ctx.caller)));
    if let Some(status) = query.status {
        select = select.filter(beneficiary::Column::Status.eq(status.as_str()));
    }
    if let Some(residence) = query
        .residence_municipality
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        select = select.filter(beneficiary::Column::ResidenceMunicipality.eq(residence));
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        if pseudonymous {
            return Err(ApiError::field(
                "q",
                "searching by name is not available to your role",
            ));
        }
        if q.chars().count() > 100 {
            return Err(ApiError::field("q", "must be at most 100 characters"));
        }
        select = select.filter(name_contains(q));
    }
    let default_sort = if pseudonymous {
        "created_at"
    } else {
        "family_name"
    };
    let by_name = query
        .sort
        .as_deref()
        .is_some_and(|sort| sort.strip_prefix('-').unwrap_or(sort) == "family_name");
    if pseudonymous && by_name {
        return Err(ApiError::field(
            "sort",
            "sorting by name is not available to your role",
        ));
    }
    let select = sort_by(
        select,
        query.sort.as_deref(),
        default_sort,
        &[
            ("family_name", beneficiary::Column::FamilyName),
            ("created_at", beneficiary::Column::CreatedAt),
            ("pseudonym", beneficiary::Column::Pseudonym),
        ],
        beneficiary::Column::Id,
    )?;
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    let items = rows
        .into_iter()
        .map(|m| Beneficiary::view(m, view))
        .collect();
    Ok(HttpResponse::Ok().json(BeneficiaryList::new(items, page, total)))
}

async fn find(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<beneficiary::Model, ApiError> {
    beneficiary::Entity::find_by_id(id)
        .filter(scope::beneficiaries(access::beneficiary_scope(&ctx.caller)))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Reads one beneficiary, with the fields the caller's role may see.
#[utoipa::path(
    tag = "beneficiaries",
    operation_id = "show_beneficiary",
    params(("id" = Uuid, Path, description = "Beneficiary id")),
    responses((status = 200, description = "The beneficiary.", body = Beneficiary)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/beneficiaries/{id}")]
pub async fn show_beneficiary(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::Beneficiaries, Action::Read)?;
    let found = find(&state.db, &ctx, *id).await?;
    let version = found.version;
    Ok(ok_tagged(
        &Beneficiary::view(found, access::beneficiary_view(&ctx.caller)),
        version,
    ))
}

/// Registers a beneficiary in the caller's municipality (social workers).
#[utoipa::path(
    tag = "beneficiaries",
    operation_id = "create_beneficiary",
    request_body = NewBeneficiary,
    responses(
        (status = 201, description = "Created.", body = Beneficiary),
        (status = 409, description = "The tax code is already registered in the municipality (`duplicate-tax-code`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/beneficiaries")]
pub async fn create_beneficiary(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewBeneficiary>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::Beneficiaries, Action::Write)?;
    let mut errors = Vec::new();
    let tax_code = parse_tax_code(&input.tax_code, &mut errors);
    let given_name = required_text("given_name", input.given_name, 100, &mut errors);
    let family_name = required_text("family_name", input.family_name, 100, &mut errors);
    let residence = required_text(
        "residence_municipality",
        input.residence_municipality,
        100,
        &mut errors,
    );
    let citizenship = input.citizenship.trim().to_owned();
    check_citizenship(&citizenship, &mut errors);
    let address = text("address", input.address, 300, &mut errors);
    let phone = text("phone", input.phone, 32, &mut errors);
    check_phone("phone", &phone, &mut errors);
    let access_notes = text("access_notes", input.access_notes, 500, &mut errors);
    if let Some(code) = &tax_code {
        errors.extend(check_identity(
            code,
            input.birth_date,
            input.sex,
            Utc::now().date_naive(),
        ));
    }
    ApiError::check(errors)?;
    let Some(tax_code) = tax_code else {
        return Err(ApiError::field("tax_code", "is not a valid tax code"));
    };
    let municipality_id = ctx.caller.organization_id;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    if tax_code_taken(&txn, municipality_id, tax_code.as_str(), None).await? {
        return Err(duplicate_tax_code());
    }
    let row = beneficiary::ActiveModel {
        id: Set(Uuid::now_v7()),
        municipality_id: Set(municipality_id),
        pseudonym: Set(pseudonym(rand::random())),
        tax_code: Set(tax_code.as_str().to_owned()),
        given_name: Set(given_name),
        family_name: Set(family_name),
        birth_date: Set(input.birth_date),
        sex: Set(sex_code(input.sex).to_owned()),
        residence_municipality: Set(residence),
        citizenship: Set(citizenship),
        address: Set(address),
        phone: Set(phone),
        access_notes: Set(access_notes),
        status: Set(BeneficiaryStatus::Active.as_str().to_owned()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(map_unique)?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "beneficiary.create",
            resource_type: "beneficiary",
            resource_id: Some(row.id),
            organization_id: Some(municipality_id),
        },
    )
    .await?;
    txn.commit().await?;
    let version = row.version;
    Ok(created(
        format!("/api/v1/beneficiaries/{}", row.id),
        &Beneficiary::view(row, access::beneficiary_view(&ctx.caller)),
        version,
    ))
}

/// Updates a beneficiary of the caller's municipality (social workers).
#[utoipa::path(
    tag = "beneficiaries",
    operation_id = "update_beneficiary",
    params(("id" = Uuid, Path, description = "Beneficiary id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = BeneficiaryPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Updated.", body = Beneficiary),
        (status = 409, description = "The tax code is already registered in the municipality (`duplicate-tax-code`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[patch("/beneficiaries/{id}")]
pub async fn update_beneficiary(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<BeneficiaryPatch>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::Beneficiaries, Action::Write)?;
    let txn = state.db.begin().await?;
    let current = find(&txn, &ctx, *id).await?;
    if current.municipality_id != ctx.caller.organization_id {
        return Err(ApiError::NotFound);
    }
    if_match.check(current.version)?;
    let mut errors = Vec::new();
    let mut changes = current.clone().into_active_model();
    let identity_changed =
        input.tax_code.is_some() || input.birth_date.is_some() || input.sex.is_some();
    let tax_code = match &input.tax_code {
        Some(value) => parse_tax_code(value, &mut errors),
        None => parse_tax_code(&current.tax_code, &mut errors),
    };
    if let Some(value) = input.given_name {
        changes.given_name = Set(required_text("given_name", value, 100, &mut errors));
    }
    if let Some(value) = input.family_name {
        changes.family_name = Set(required_text("family_name", value, 100, &mut errors));
    }
    if let Some(value) = input.residence_municipality {
        changes.residence_municipality = Set(required_text(
            "residence_municipality",
            value,
            100,
            &mut errors,
        ));
    }
    if let Some(value) = input.citizenship {
        let value = value.trim().to_owned();
        check_citizenship(&value, &mut errors);
        changes.citizenship = Set(value);
    }
    if let Some(value) = input.address {
        changes.address = Set(text("address", value, 300, &mut errors));
    }
    if let Some(value) = input.phone {
        let phone = text("phone", value, 32, &mut errors);
        check_phone("phone", &phone, &mut errors);
        changes.phone = Set(phone);
    }
    if let Some(value) = input.access_notes {
        changes.access_notes = Set(text("access_notes", value, 500, &mut errors));
    }
    if let Some(status) = input.status {
        changes.status = Set(status.as_str().to_owned());
    }
    let birth_date = input.birth_date.unwrap_or(current.birth_date);
    let sex = input.sex.or_else(|| parse_sex(&current.sex));
    if identity_changed {
        match (&tax_code, sex) {
            (Some(code), Some(sex)) => {
                errors.extend(check_identity(
                    code,
                    birth_date,
                    sex,
                    Utc::now().date_naive(),
                ));
            }
            (Some(_), None) => errors.push(FieldError::new("sex", "is required")),
            (None, _) => {}
        }
    }
    ApiError::check(errors)?;
    if identity_changed {
        if let Some(code) = &tax_code {
            if code.as_str() != current.tax_code
                && tax_code_taken(
                    &txn,
                    current.municipality_id,
                    code.as_str(),
                    Some(current.id),
                )
                .await?
            {
                return Err(duplicate_tax_code());
            }
            changes.tax_code = Set(code.as_str().to_owned());
        }
        changes.birth_date = Set(birth_date);
        if let Some(sex) = sex {
            changes.sex = Set(sex_code(sex).to_owned());
        }
    }
    changes.updated_at = Set(Utc::now());
    db::update_versioned::<beneficiary::Entity, _>(
        &txn,
        beneficiary::Column::Id,
        beneficiary::Column::Version,
        current.id,
        current.version,
        changes,
    )
    .await
    .map_err(|err| match err {
        db::UpdateError::Db(err) => map_unique(err),
        stale => stale.into(),
    })?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "beneficiary.update",
            resource_type: "beneficiary",
            resource_id: Some(current.id),
            organization_id: Some(current.municipality_id),
        },
    )
    .await?;
    let updated = find(&txn, &ctx, current.id).await?;
    txn.commit().await?;
    let version = updated.version;
    Ok(ok_tagged(
        &Beneficiary::view(updated, access::beneficiary_view(&ctx.caller)),
        version,
    ))
}

/// Lists a beneficiary's sensitive notes, newest first; every read is recorded in the audit log.
#[utoipa::path(
    tag = "beneficiaries",
    operation_id = "list_sensitive_notes",
    params(("id" = Uuid, Path, description = "Beneficiary id"), SensitiveNoteQuery),
    responses((status = 200, description = "A page of notes, newest first.", body = SensitiveNoteList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/beneficiaries/{id}/sensitive-notes")]
pub async fn list_sensitive_notes(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    ApiQuery(query): ApiQuery<SensitiveNoteQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::SensitiveNotes, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    let txn = state.db.begin().await?;
    let person = find(&txn, &ctx, *id).await?;
    let select = sensitive_note::Entity::find()
        .filter(sensitive_note::Column::BeneficiaryId.eq(person.id))
        .order_by_desc(sensitive_note::Column::CreatedAt)
        .order_by_desc(sensitive_note::Column::Id);
    let (rows, total) = db::paginate(&txn, select, page.limit, page.offset).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "sensitive_note.read",
            resource_type: "beneficiary",
            resource_id: Some(person.id),
            organization_id: Some(person.municipality_id),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(SensitiveNoteList::new(
        rows.into_iter().map(Into::into).collect(),
        page,
        total,
    )))
}

/// Adds a sensitive note to a beneficiary (social workers, in person).
#[utoipa::path(
    tag = "beneficiaries",
    operation_id = "create_sensitive_note",
    params(("id" = Uuid, Path, description = "Beneficiary id")),
    request_body = NewSensitiveNote,
    responses((status = 201, description = "Created.", body = SensitiveNote)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/beneficiaries/{id}/sensitive-notes")]
pub async fn create_sensitive_note(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    ApiJson(input): ApiJson<NewSensitiveNote>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::SensitiveNotes, Action::Write)?;
    let author_id = ctx.caller.user_id().ok_or(ApiError::Forbidden)?;
    let mut errors = Vec::new();
    let body = required_text("body", input.body, 10_000, &mut errors);
    ApiError::check(errors)?;
    let txn = state.db.begin().await?;
    let person = find(&txn, &ctx, *id).await?;
    let note = sensitive_note::ActiveModel {
        id: Set(Uuid::now_v7()),
        beneficiary_id: Set(person.id),
        author_id: Set(author_id),
        category: Set(input.category.as_str().to_owned()),
        body: Set(body),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "sensitive_note.create",
            resource_type: "beneficiary",
            resource_id: Some(person.id),
            organization_id: Some(person.municipality_id),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/beneficiaries/{}/sensitive-notes", person.id),
        ))
        .json(SensitiveNote::from(note)))
}

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_beneficiaries)
        .service(create_beneficiary)
        .service(show_beneficiary)
        .service(update_beneficiary)
        .service(list_sensitive_notes)
        .service(create_sensitive_note);
}
