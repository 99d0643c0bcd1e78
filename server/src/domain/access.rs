//! The access policy of DESIGN.md §2 as plain decisions: which role may use which resource, and
//! which rows and fields a caller sees. The database layer turns scopes into `WHERE` clauses, so
//! a row outside the scope is never loaded and answers 404.

use uuid::Uuid;

use super::roles::{Caller, OrganizationKind, Principal, Role};

/// The resources of the REST API, as the policy sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Organizations,
    Users,
    ApiClients,
    Beneficiaries,
    SensitiveNotes,
    ServiceTypes,
    CarePlans,
    /// Assigning operators to a care plan.
    CarePlanOperators,
    ServiceRecords,
    /// Phones and browsers that sync, and their revocation.
    Devices,
    /// Syncing documents (tickets, the WebSocket, the list of one's documents).
    Sync,
    /// The review queue, and validating, rejecting or asking clarification about a record.
    Reviews,
    /// A municipality's configuration of the automatic checks (rules and thresholds).
    RuleSettings,
    /// Monthly statements (rendicontazione): drafted and submitted by the provider, approved by
    /// the municipality.
    Statements,
    AuditEvents,
}

/// Reading (get, list) or writing (create, update, transitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
}

/// Whether the caller's role may use `resource` for `action` at all. `false` answers 403; a
/// `true` still leaves row-level scope to decide (404 outside it).
pub fn allows(caller: &Caller, resource: Resource, action: Action) -> bool {
    use Action::{Read, Write};
    use Role::*;
    let person = matches!(caller.principal, Principal::User(_));
    match (resource, action) {
        (Resource::Organizations | Resource::ServiceTypes, Read) => true,
        (Resource::Organizations | Resource::ServiceTypes | Resource::ApiClients, Write) => {
            caller.role == Admin
        }
        (Resource::ApiClients | Resource::AuditEvents, Read) => caller.role == Admin,
        (Resource::AuditEvents, Write) => false,
        (Resource::Users, Read) => {
            matches!(caller.role, Admin | SocialWorker | ProviderCoordinator)
        }
        (Resource::Users, Write) => matches!(caller.role, Admin | ProviderCoordinator),
        (Resource::Beneficiaries | Resource::CarePlans | Resource::ServiceRecords, Read) => {
            matches!(
                caller.role,
                SocialWorker | Administrative | ProviderCoordinator | FieldOperator
            )
        }
        (Resource::Beneficiaries | Resource::CarePlans, Write) => caller.role == SocialWorker,
        // Health and social assessments: people in the social worker role only, never systems.
        (Resource::SensitiveNotes, _) => caller.role == SocialWorker && person,
        (Resource::CarePlanOperators, Read) => false,
        (Resource::CarePlanOperators, Write) => {
            matches!(caller.role, SocialWorker | ProviderCoordinator)
        }
        (Resource::ServiceRecords, Write) => {
            matches!(caller.role, ProviderCoordinator | FieldOperator)
        }
        (Resource::Devices, _) => {
            person && matches!(caller.role, Admin | ProviderCoordinator | FieldOperator)
        }
        // The field roles sync; everyone else works through REST (DESIGN.md §5).
        (Resource::Sync, _) => person && matches!(caller.role, ProviderCoordinator | FieldOperator),
        (Resource::Reviews, _) => caller.role == SocialWorker && person,
        // Providers read the rules their records are checked against; the municipality's
        // administrator sets them.
        (Resource::RuleSettings, Read) => matches!(
            caller.role,
            Admin | SocialWorker | Administrative | ProviderCoordinator
        ),
        (Resource::RuleSettings, Write) => caller.role == Admin,
        // Which transition each side may make is the statement module's decision.
        (Resource::Statements, Read) => matches!(
            caller.role,
            Administrative | SocialWorker | ProviderCoordinator
        ),
        (Resource::Statements, Write) => {
            matches!(
                caller.role,
                Administrative | ProviderCoordinator | SocialWorker
            )
        }
    }
}

/// Which organizations (and their users, API clients and audit events) a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrganizationScope {
    /// Municipality staff: their own municipality and the registry of providers.
    OwnAndProviders(Uuid),
    /// Provider staff: their own organization only.
    Own(Uuid),
}

/// The organizations visible to the caller.
pub fn organization_scope(caller: &Caller) -> OrganizationScope {
    match caller.organization_kind {
        OrganizationKind::Municipality => {
            OrganizationScope::OwnAndProviders(caller.organization_id)
        }
        OrganizationKind::Provider => OrganizationScope::Own(caller.organization_id),
    }
}

/// The users visible to the caller: admins see the providers' staff they administer.
pub fn user_scope(caller: &Caller) -> OrganizationScope {
    match caller.role {
        Role::Admin => OrganizationScope::OwnAndProviders(caller.organization_id),
        _ => OrganizationScope::Own(caller.organization_id),
    }
}

/// The devices a caller sees and may revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceScope {
    /// Their own devices only.
    Owner(Uuid),
    /// The devices of users of these organizations.
    Organizations(OrganizationScope),
}

/// Operators manage their own devices; coordinators their organization's (a lost phone is
/// reported to them); admins those of the users they administer.
pub fn device_scope(caller: &Caller) -> DeviceScope {
    match (caller.role, caller.user_id()) {
        (Role::FieldOperator, Some(user_id)) => DeviceScope::Owner(user_id),
        _ => DeviceScope::Organizations(user_scope(caller)),
    }
}

/// Whether the caller may create or edit a user of role `role` in an organization of `kind`
/// (`own`: the caller's organization).
pub fn may_manage_user(caller: &Caller, kind: OrganizationKind, own: bool, role: Role) -> bool {
    if !role.fits(kind) {
        return false;
    }
    match caller.role {
        Role::Admin => own || kind == OrganizationKind::Provider,
        Role::ProviderCoordinator => own && role == Role::FieldOperator,
        _ => false,
    }
}

/// Which care plans (and through them, beneficiaries and records) a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanScope {
    /// Every plan of a municipality.
    Municipality(Uuid),
    /// Every plan a provider delivers.
    Provider(Uuid),
    /// The plans an operator is authorized on (for records: the operator's own records).
    Operator(Uuid),
}

/// The plans visible to the caller. Only meaningful once [`allows`] said yes.
pub fn plan_scope(caller: &Caller) -> PlanScope {
    match (caller.organization_kind, caller.role, caller.principal) {
        (OrganizationKind::Municipality, _, _) => PlanScope::Municipality(caller.organization_id),
        (OrganizationKind::Provider, Role::FieldOperator, Principal::User(id)) => {
            PlanScope::Operator(id)
        }
        (OrganizationKind::Provider, _, _) => PlanScope::Provider(caller.organization_id),
    }
}

/// Which beneficiaries a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeneficiaryScope {
    /// The municipality's whole register.
    Municipality(Uuid),
    /// Only people with a plan in this scope.
    ViaPlans(PlanScope),
}

/// The beneficiaries visible to the caller.
pub fn beneficiary_scope(caller: &Caller) -> BeneficiaryScope {
    match plan_scope(caller) {
        PlanScope::Municipality(id) => BeneficiaryScope::Municipality(id),
        other => BeneficiaryScope::ViaPlans(other),
    }
}

/// How much of a beneficiary a caller sees (data minimization, GDPR art. 5 and 25).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeneficiaryView {
    /// Everything but sensitive notes: the social worker's register.
    Full,
    /// What a visit needs: name, address, phone, access notes.
    Visit,
    /// A pseudonym and statistical attributes (sex, birth year, residence, citizenship).
    Pseudonymous,
}

/// The beneficiary fields the caller may see.
pub fn beneficiary_view(caller: &Caller) -> BeneficiaryView {
    match caller.role {
        Role::SocialWorker => BeneficiaryView::Full,
        Role::ProviderCoordinator | Role::FieldOperator => BeneficiaryView::Visit,
        Role::Administrative | Role::Admin => BeneficiaryView::Pseudonymous,
    }
}

/// How much of a service record a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordView {
    /// Everything.
    Full,
    /// Accounting: no free-text notes and no location.
    Accounting,
}

/// The service record fields the caller may see.
pub fn record_view(caller: &Caller) -> RecordView {
    match caller.role {
        Role::Administrative => RecordView::Accounting,
        _ => RecordView::Full,
    }
}

/// Which municipalities' service catalogues a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogueScope {
    /// The municipality's own catalogue.
    Municipality(Uuid),
    /// The catalogues of the municipalities a provider has plans with.
    ProviderClients(Uuid),
}

/// The service catalogues visible to the caller.
pub fn catalogue_scope(caller: &Caller) -> CatalogueScope {
    match caller.organization_kind {
        OrganizationKind::Municipality => CatalogueScope::Municipality(caller.organization_id),
        OrganizationKind::Provider => CatalogueScope::ProviderClients(caller.organization_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, kind: OrganizationKind) -> Caller {
        Caller {
            principal: Principal::User(Uuid::from_u128(7)),
            role,
            organization_id: Uuid::from_u128(1),
            organization_kind: kind,
        }
    }

    #[test]
    fn administrative_staff_never_see_identities_or_notes() {
        let c = caller(Role::Administrative, OrganizationKind::Municipality);
        assert_eq!(beneficiary_view(&c), BeneficiaryView::Pseudonymous);
        assert_eq!(record_view(&c), RecordView::Accounting);
        assert!(!allows(&c, Resource::SensitiveNotes, Action::Read));
    }

    #[test]
    fn sensitive_notes_are_for_social_workers_in_person_only() {
        let worker = caller(Role::SocialWorker, OrganizationKind::Municipality);
        assert!(allows(&worker, Resource::SensitiveNotes, Action::Read));
        let system = Caller {
            principal: Principal::ApiClient(Uuid::from_u128(9)),
            ..worker
        };
        assert!(!allows(&system, Resource::SensitiveNotes, Action::Read));
        let admin = caller(Role::Admin, OrganizationKind::Municipality);
        assert!(!allows(&admin, Resource::SensitiveNotes, Action::Read));
    }

    #[test]
    fn operators_see_only_their_plans_with_the_visit_view() {
        let op = caller(Role::FieldOperator, OrganizationKind::Provider);
        assert_eq!(plan_scope(&op), PlanScope::Operator(Uuid::from_u128(7)));
        assert_eq!(beneficiary_view(&op), BeneficiaryView::Visit);
        assert!(!allows(&op, Resource::CarePlans, Action::Write));
        assert!(allows(&op, Resource::ServiceRecords, Action::Write));
    }

    #[test]
    fn coordinators_manage_only_their_own_field_operators() {
        let coord = caller(Role::ProviderCoordinator, OrganizationKind::Provider);
        assert!(may_manage_user(
            &coord,
            OrganizationKind::Provider,
            true,
            Role::FieldOperator
        ));
        assert!(!may_manage_user(
            &coord,
            OrganizationKind::Provider,
            false,
            Role::FieldOperator
        ));
        assert!(!may_manage_user(
            &coord,
            OrganizationKind::Provider,
            true,
            Role::ProviderCoordinator
        ));
    }

    #[test]
    fn admins_cannot_give_a_role_that_does_not_fit_the_organization() {
        let admin = caller(Role::Admin, OrganizationKind::Municipality);
        assert!(may_manage_user(
            &admin,
            OrganizationKind::Provider,
            false,
            Role::FieldOperator
        ));
        assert!(!may_manage_user(
            &admin,
            OrganizationKind::Provider,
            false,
            Role::SocialWorker
        ));
        assert!(!may_manage_user(
            &admin,
            OrganizationKind::Municipality,
            true,
            Role::FieldOperator
        ));
    }

    #[test]
    fn admins_do_not_read_care_data() {
        let admin = caller(Role::Admin, OrganizationKind::Municipality);
        assert!(!allows(&admin, Resource::Beneficiaries, Action::Read));
        assert!(!allows(&admin, Resource::ServiceRecords, Action::Read));
        assert!(allows(&admin, Resource::AuditEvents, Action::Read));
    }
}
