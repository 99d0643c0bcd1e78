//! Who is calling: roles, organization kinds and the authenticated caller.

use uuid::Uuid;

wire_enum!(
    /// What a user does in Taccuino (DESIGN.md §2).
    Role {
        /// System administrator of a municipality: organizations, users, API clients, audit.
        Admin => "admin",
        /// Assistente sociale: beneficiaries, care plans, reviews.
        SocialWorker => "social_worker",
        /// Coordinator of a provider: assigns operators, corrects their records.
        ProviderCoordinator => "provider_coordinator",
        /// OSS, educator, driver: records services on plans they are authorized on.
        FieldOperator => "field_operator",
        /// Office staff: statements and counts, never identities beyond a pseudonym.
        Administrative => "administrative",
    }
);

impl Role {
    /// Whether a user of an organization of `kind` may hold this role.
    pub fn fits(self, kind: OrganizationKind) -> bool {
        match kind {
            OrganizationKind::Municipality => {
                matches!(
                    self,
                    Self::Admin | Self::SocialWorker | Self::Administrative
                )
            }
            OrganizationKind::Provider => matches!(
                self,
                Self::ProviderCoordinator | Self::FieldOperator | Self::Administrative
            ),
        }
    }
}

wire_enum!(
    /// Municipality (comune, ambito: owns beneficiaries and plans) or provider (cooperative).
    OrganizationKind {
        /// Comune or ambito: owns beneficiaries, plans and the service catalogue.
        Municipality => "municipality",
        /// Ente erogatore, cooperative: delivers services.
        Provider => "provider",
    }
);

/// The authenticated party: a person, or a vendor's system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A user, by id.
    User(Uuid),
    /// An API client (OAuth2 client credentials), by id.
    ApiClient(Uuid),
}

/// The caller of a request, as loaded fresh from the database for each request, so that a
/// deactivated user or a changed role takes effect at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// Who.
    pub principal: Principal,
    /// The role that decides permissions. API clients act with the role of their organization's
    /// coordinator (provider) or social worker (municipality), minus sensitive data.
    pub role: Role,
    /// The caller's organization: every query is scoped by it.
    pub organization_id: Uuid,
    /// Kind of the caller's organization.
    pub organization_kind: OrganizationKind,
}

impl Caller {
    /// The role an API client of an organization of `kind` acts with.
    pub fn api_client_role(kind: OrganizationKind) -> Role {
        match kind {
            OrganizationKind::Municipality => Role::SocialWorker,
            OrganizationKind::Provider => Role::ProviderCoordinator,
        }
    }

    /// The user id, when the caller is a person.
    pub fn user_id(&self) -> Option<Uuid> {
        match self.principal {
            Principal::User(id) => Some(id),
            Principal::ApiClient(_) => None,
        }
    }

    /// The API client id, when the caller is a vendor's system.
    pub fn client_id(&self) -> Option<Uuid> {
        match self.principal {
            Principal::ApiClient(id) => Some(id),
            Principal::User(_) => None,
        }
    }
}
