//! Listing, reading, registering and updating beneficiaries.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{
    checks::{
        authorize, check_citizenship, check_phone, duplicate_tax_code, map_unique, parse_tax_code,
        tax_code_taken,
    },
    dto::{Beneficiary, BeneficiaryList, BeneficiaryPatch, BeneficiaryQuery, NewBeneficiary},
    load::{find, name_contains, plans_of},
};
use crate::{
    auth::caller::Ctx,
    db::{self, audit, entities::beneficiary, scope},
    domain::{
        FieldError,
        access::{self, Action, BeneficiaryView, Resource},
        beneficiary::{BeneficiaryStatus, check_identity, parse_sex, pseudonym, sex_code},
    },
    error::ApiError,
    findings,
    http::{
        ApiJson, IfMatch, Page, created, extract::ApiQuery, ok_tagged, required_text, sort_by, text,
    },
    state::AppState,
};

/// Lists the beneficiaries visible to the caller, with the fields the caller's role may see.
#[utoipa::path(
    tag = "beneficiaries",
    operation_id = "list_beneficiaries",
    params(BeneficiaryQuery),
    responses((status = 200, description = "A page of beneficiaries.", body = BeneficiaryList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/beneficiaries")]
pub(super) async fn list_beneficiaries(
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

/// Reads one beneficiary, with the fields the caller's role may see.
#[utoipa::path(
    tag = "beneficiaries",
    operation_id = "show_beneficiary",
    params(("id" = Uuid, Path, description = "Beneficiary id")),
    responses((status = 200, description = "The beneficiary.", body = Beneficiary)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/beneficiaries/{id}")]
pub(super) async fn show_beneficiary(
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
pub(super) async fn create_beneficiary(
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
    let position = input
        .address_position
        .and_then(|p| p.check("address_position", &mut errors));
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
        address_latitude: Set(position.map(|p| p.latitude)),
        address_longitude: Set(position.map(|p| p.longitude)),
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
pub(super) async fn update_beneficiary(
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
    if let Some(value) = input.address_position {
        let position = value.and_then(|p| p.check("address_position", &mut errors));
        changes.address_latitude = Set(position.map(|p| p.latitude));
        changes.address_longitude = Set(position.map(|p| p.longitude));
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
    let moved = (updated.address_latitude, updated.address_longitude)
        != (current.address_latitude, current.address_longitude);
    if moved {
        // Visits are compared with the address's position (`far_from_address`).
        for plan_id in plans_of(&txn, current.id).await? {
            findings::after_plan_changed(&txn, plan_id, Utc::now()).await?;
        }
    }
    txn.commit().await?;
    // The visit details (name, address, phone, access notes) live in the plan documents.
    for plan_id in plans_of(&state.db, current.id).await? {
        state.sync.plan_changed(plan_id).await;
    }
    let version = updated.version;
    Ok(ok_tagged(
        &Beneficiary::view(updated, access::beneficiary_view(&ctx.caller)),
        version,
    ))
}
