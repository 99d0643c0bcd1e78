//! The `beneficiaries` table.

use sea_orm::entity::prelude::*;

/// A row of `beneficiaries`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "beneficiaries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub municipality_id: Uuid,
    pub pseudonym: String,
    pub tax_code: String,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: Date,
    pub sex: String,
    pub residence_municipality: String,
    pub citizenship: String,
    pub address: Option<String>,
    /// WGS 84 position of the address, when recorded.
    pub address_latitude: Option<f64>,
    pub address_longitude: Option<f64>,
    pub phone: Option<String>,
    pub access_notes: Option<String>,
    pub status: String,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
