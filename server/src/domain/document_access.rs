//! The share policy (DESIGN.md §5): who may sync which automerge document, and how.
//!
//! Every document has one kind of writer. Operators write their own diaries of the plans they
//! are authorized on and read those plans' documents; coordinators write the diaries of their
//! provider's operators and read the plans their provider delivers. Nobody else syncs anything:
//! social workers, administrative staff and vendors use REST, and the server writes their
//! effects into the documents itself.

use taccuino_sync::{DocumentKind, protocol::Access};
use uuid::Uuid;

use super::{
    care_plan::PlanStatus,
    roles::{Caller, Principal, Role},
};

/// What the server knows about a document and its plan, from its own tables (never from the
/// document, which a device can write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentFacts {
    /// Plan or diary.
    pub kind: DocumentKind,
    /// The plan the document belongs to.
    pub plan_status: PlanStatus,
    /// The provider delivering the plan.
    pub plan_provider_id: Uuid,
    /// For a diary: its operator.
    pub owner_id: Option<Uuid>,
    /// Whether the caller is an operator authorized on the plan right now.
    pub caller_authorized_on_plan: bool,
}

/// What `caller` may do with the document described by `facts`.
pub fn document_access(caller: &Caller, facts: &DocumentFacts) -> Access {
    let Principal::User(user_id) = caller.principal else {
        return Access::Denied;
    };
    // A draft is not agreed yet; nobody in the field needs it.
    if facts.plan_status == PlanStatus::Draft {
        return Access::Denied;
    }
    let closed = facts.plan_status == PlanStatus::Closed;
    match (caller.role, facts.kind) {
        (Role::FieldOperator, _) if !facts.caller_authorized_on_plan || closed => {
            // Once the plan closes the operator no longer needs the address or the history.
            Access::Denied
        }
        (Role::FieldOperator, DocumentKind::Plan) => Access::ReadOnly,
        (Role::FieldOperator, DocumentKind::Diary) if facts.owner_id == Some(user_id) => {
            Access::ReadWrite
        }
        (Role::ProviderCoordinator, _) if facts.plan_provider_id != caller.organization_id => {
            Access::Denied
        }
        (Role::ProviderCoordinator, DocumentKind::Plan) => Access::ReadOnly,
        // A closed plan's diaries stay readable for the coordinator's accounts, not writable.
        (Role::ProviderCoordinator, DocumentKind::Diary) if closed => Access::ReadOnly,
        (Role::ProviderCoordinator, DocumentKind::Diary) => Access::ReadWrite,
        _ => Access::Denied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::roles::OrganizationKind;

    const PROVIDER: Uuid = Uuid::from_u128(1);
    const OTHER_PROVIDER: Uuid = Uuid::from_u128(2);
    const OPERATOR: Uuid = Uuid::from_u128(10);
    const COLLEAGUE: Uuid = Uuid::from_u128(11);

    fn caller(role: Role, user: Uuid, organization_id: Uuid) -> Caller {
        Caller {
            principal: Principal::User(user),
            role,
            organization_id,
            organization_kind: match role {
                Role::SocialWorker | Role::Administrative | Role::Admin => {
                    OrganizationKind::Municipality
                }
                _ => OrganizationKind::Provider,
            },
        }
    }

    fn facts(kind: DocumentKind, status: PlanStatus, authorized: bool) -> DocumentFacts {
        DocumentFacts {
            kind,
            plan_status: status,
            plan_provider_id: PROVIDER,
            owner_id: (kind == DocumentKind::Diary).then_some(OPERATOR),
            caller_authorized_on_plan: authorized,
        }
    }

    #[test]
    fn an_operator_writes_their_own_diary_and_reads_the_plan() {
        let me = caller(Role::FieldOperator, OPERATOR, PROVIDER);
        let diary = facts(DocumentKind::Diary, PlanStatus::Active, true);
        let plan = facts(DocumentKind::Plan, PlanStatus::Active, true);
        assert_eq!(document_access(&me, &diary), Access::ReadWrite);
        assert_eq!(document_access(&me, &plan), Access::ReadOnly);
        let suspended = facts(DocumentKind::Diary, PlanStatus::Suspended, true);
        assert_eq!(document_access(&me, &suspended), Access::ReadWrite);
    }

    #[test]
    fn an_operator_gets_nothing_of_a_colleague_or_an_unauthorized_or_closed_plan() {
        let colleague = caller(Role::FieldOperator, COLLEAGUE, PROVIDER);
        let diary = facts(DocumentKind::Diary, PlanStatus::Active, true);
        assert_eq!(document_access(&colleague, &diary), Access::Denied);
        let me = caller(Role::FieldOperator, OPERATOR, PROVIDER);
        for (status, authorized) in [
            (PlanStatus::Active, false),
            (PlanStatus::Closed, true),
            (PlanStatus::Draft, true),
        ] {
            for kind in [DocumentKind::Plan, DocumentKind::Diary] {
                assert_eq!(
                    document_access(&me, &facts(kind, status, authorized)),
                    Access::Denied,
                    "{kind:?} {status:?} authorized={authorized}"
                );
            }
        }
    }

    #[test]
    fn a_coordinator_writes_their_providers_diaries_only() {
        let mine = caller(Role::ProviderCoordinator, Uuid::from_u128(20), PROVIDER);
        let theirs = caller(
            Role::ProviderCoordinator,
            Uuid::from_u128(21),
            OTHER_PROVIDER,
        );
        let diary = facts(DocumentKind::Diary, PlanStatus::Active, false);
        let plan = facts(DocumentKind::Plan, PlanStatus::Active, false);
        assert_eq!(document_access(&mine, &diary), Access::ReadWrite);
        assert_eq!(document_access(&mine, &plan), Access::ReadOnly);
        assert_eq!(document_access(&theirs, &diary), Access::Denied);
        assert_eq!(document_access(&theirs, &plan), Access::Denied);
        let closed = facts(DocumentKind::Diary, PlanStatus::Closed, false);
        assert_eq!(document_access(&mine, &closed), Access::ReadOnly);
    }

    #[test]
    fn municipality_roles_and_api_clients_use_rest_not_sync() {
        let diary = facts(DocumentKind::Diary, PlanStatus::Active, true);
        for role in [Role::SocialWorker, Role::Administrative, Role::Admin] {
            let who = caller(role, Uuid::from_u128(30), PROVIDER);
            assert_eq!(document_access(&who, &diary), Access::Denied, "{role:?}");
        }
        let client = Caller {
            principal: Principal::ApiClient(Uuid::from_u128(40)),
            ..caller(Role::ProviderCoordinator, Uuid::nil(), PROVIDER)
        };
        assert_eq!(document_access(&client, &diary), Access::Denied);
    }
}
