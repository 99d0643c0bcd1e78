//! The wire forms of beneficiaries and their sensitive notes: responses, request bodies, query
//! parameters, and the conversion of stored rows.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    db::entities::{beneficiary, sensitive_note},
    domain::{
        FieldError,
        access::BeneficiaryView,
        beneficiary::{BeneficiaryStatus, parse_sex},
        tax_code::Sex,
    },
    http::list_envelope,
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
pub(super) struct Beneficiary {
    pub(super) id: Uuid,
    /// Random pseudonym used in statistics and accounting.
    #[schema(max_length = 16, example = "B-K7QX2M9D")]
    pub(super) pseudonym: String,
    /// Codice fiscale (full view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 16,
        pattern = "^[0-9A-Z]{16}$",
        example = "BNCNNA41E43F205R"
    )]
    pub(super) tax_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "Anna")]
    pub(super) given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "Bianchi")]
    pub(super) family_name: Option<String>,
    /// Full view only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) birth_date: Option<NaiveDate>,
    /// Pseudonymous view only (the full view has `birth_date`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Int32, minimum = 1900, maximum = 2200)]
    pub(super) birth_year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SexSchema>)]
    pub(super) sex: Option<Sex>,
    /// Municipality of residence.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "Milano")]
    pub(super) residence_municipality: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2, pattern = "^[A-Z]{2}$", example = "IT")]
    pub(super) citizenship: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 300, example = "Via Roma 1, Milano")]
    pub(super) address: Option<String>,
    /// Where the address is, when recorded: visits recorded far from it are flagged
    /// (`far_from_address`, docs/rules.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) address_position: Option<Position>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 32, pattern = r"^[0-9 +]+$", example = "+39 02 1234567")]
    pub(super) phone: Option<String>,
    /// How to get in (intercom, keys, dog...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub(super) access_notes: Option<String>,
    pub(super) status: BeneficiaryStatus,
    /// Incremented by every change; also the ETag (full view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Int32, minimum = 1)]
    pub(super) version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) updated_at: Option<DateTime<Utc>>,
}

impl Beneficiary {
    /// The fields of `m` that `view` allows, and nothing else.
    pub(super) fn view(m: beneficiary::Model, view: BeneficiaryView) -> Self {
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
            address_position: None,
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
                address_position: Position::of(m.address_latitude, m.address_longitude),
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
                address_position: Position::of(m.address_latitude, m.address_longitude),
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
pub(super) struct NewBeneficiary {
    /// Codice fiscale; checked with its check character and against birth date and sex.
    #[schema(
        max_length = 16,
        pattern = "^[0-9A-Za-z]{16}$",
        example = "BNCNNA41E43F205R"
    )]
    pub(super) tax_code: String,
    #[schema(max_length = 100, example = "Anna")]
    pub(super) given_name: String,
    #[schema(max_length = 100, example = "Bianchi")]
    pub(super) family_name: String,
    pub(super) birth_date: NaiveDate,
    #[schema(value_type = SexSchema)]
    pub(super) sex: Sex,
    /// Municipality of residence.
    #[schema(max_length = 100, example = "Milano")]
    pub(super) residence_municipality: String,
    /// ISO 3166-1 alpha-2 country code.
    #[schema(max_length = 2, pattern = "^[A-Z]{2}$", example = "IT")]
    pub(super) citizenship: String,
    #[schema(max_length = 300)]
    pub(super) address: Option<String>,
    /// Where the address is (WGS 84), if known.
    pub(super) address_position: Option<Position>,
    #[schema(max_length = 32, pattern = r"^[0-9 +]+$")]
    pub(super) phone: Option<String>,
    #[schema(max_length = 500)]
    pub(super) access_notes: Option<String>,
}

/// A WGS 84 position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Position {
    #[schema(format = Double, minimum = -90, maximum = 90, example = 45.3585)]
    pub(super) latitude: f64,
    #[schema(format = Double, minimum = -180, maximum = 180, example = 9.3232)]
    pub(super) longitude: f64,
}

impl Position {
    fn of(latitude: Option<f64>, longitude: Option<f64>) -> Option<Self> {
        latitude.zip(longitude).map(|(latitude, longitude)| Self {
            latitude,
            longitude,
        })
    }

    /// The position, or the field errors of a point off the globe.
    pub(super) fn check(self, field: &str, errors: &mut Vec<FieldError>) -> Option<Self> {
        let mut ok = true;
        if !(-90.0..=90.0).contains(&self.latitude) {
            errors.push(FieldError::new(
                format!("{field}.latitude"),
                "must be between -90 and 90",
            ));
            ok = false;
        }
        if !(-180.0..=180.0).contains(&self.longitude) {
            errors.push(FieldError::new(
                format!("{field}.longitude"),
                "must be between -180 and 180",
            ));
            ok = false;
        }
        ok.then_some(self)
    }
}

/// Changes to a beneficiary (JSON merge patch; `null` clears `address`, `address_position`,
/// `phone`, `access_notes`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BeneficiaryPatch {
    #[schema(max_length = 16, pattern = "^[0-9A-Za-z]{16}$")]
    pub(super) tax_code: Option<String>,
    #[schema(max_length = 100)]
    pub(super) given_name: Option<String>,
    #[schema(max_length = 100)]
    pub(super) family_name: Option<String>,
    pub(super) birth_date: Option<NaiveDate>,
    #[schema(value_type = Option<SexSchema>)]
    pub(super) sex: Option<Sex>,
    #[schema(max_length = 100)]
    pub(super) residence_municipality: Option<String>,
    #[schema(max_length = 2, pattern = "^[A-Z]{2}$")]
    pub(super) citizenship: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable, max_length = 300)]
    pub(super) address: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Position>, nullable)]
    pub(super) address_position: Option<Option<Position>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable, max_length = 32, pattern = r"^[0-9 +]+$")]
    pub(super) phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable, max_length = 500)]
    pub(super) access_notes: Option<Option<String>>,
    pub(super) status: Option<BeneficiaryStatus>,
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
pub(super) struct BeneficiaryQuery {
    /// Only beneficiaries in this status.
    pub(super) status: Option<BeneficiaryStatus>,
    /// Only residents of this municipality (exact match).
    #[param(max_length = 100)]
    pub(super) residence_municipality: Option<String>,
    /// Part of the given or family name, case-insensitive; not available to roles that see
    /// pseudonyms only (422).
    #[param(max_length = 100)]
    pub(super) q: Option<String>,
    /// Sort order; `-` for descending. Roles that see pseudonyms only may not sort by name.
    #[param(pattern = "^-?(family_name|created_at|pseudonym)$", max_length = 12)]
    pub(super) sort: Option<String>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub(super) limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub(super) offset: Option<u64>,
}

/// What a sensitive note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum NoteCategory {
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
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::SocialAssessment => "social_assessment",
            Self::Health => "health",
            Self::Family => "family",
            Self::Legal => "legal",
            Self::Other => "other",
        }
    }

    /// Parses a stored value.
    pub(super) fn parse(value: &str) -> Option<Self> {
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
pub(super) struct SensitiveNote {
    pub(super) id: Uuid,
    pub(super) beneficiary_id: Uuid,
    /// The social worker who wrote it.
    pub(super) author_id: Uuid,
    pub(super) category: NoteCategory,
    #[schema(max_length = 10000)]
    pub(super) body: String,
    pub(super) created_at: DateTime<Utc>,
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
pub(super) struct NewSensitiveNote {
    pub(super) category: NoteCategory,
    #[schema(min_length = 1, max_length = 10000)]
    pub(super) body: String,
}

/// Paging of the sensitive notes.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SensitiveNoteQuery {
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub(super) limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub(super) offset: Option<u64>,
}
