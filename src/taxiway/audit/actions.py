"""The audit-log actions the official SDK declares, and the ones taxiway records.

Runway's web app records these for its workspaces; taxiway has one workspace per organization and
records the changes it really makes, each under the SDK action that names it best:

| What changed | Action | resourceType |
|---|---|---|
| organization created | `WorkspaceCreated` | `workspace` |
| API key created / revoked | `PermissionGranted` / `PermissionRevoked` | `api_key` |
| credits added or removed by the operator | `CreditsTransferred` | `organization` |
| tier changed | `SubscriptionPlanSwitched` | `organization` |
| Model Router created, updated or deleted | `OrganizationSettingsUpdated` | `router` |
| test-mode simulation set or cleared | `OrganizationSettingsUpdated` | `simulation` |
| realtime avatar session opened | `StudioSessionOpened` | `session` |
"""

from __future__ import annotations

from enum import StrEnum

# runwayml 5.24.0, types/organization/webapp/audit_log_list_response.py, in its order.
ACTIONS: tuple[str, ...] = (
    "UserLogin", "PasswordChanged", "EmailChangeRequested", "EmailChanged", "UserRegistered",
    "UserAccountDeleted", "WorkspaceCreated", "WorkspaceDeleted", "MemberInvited",
    "MemberInviteReminderSent", "MemberRemoved", "MemberRoleChanged", "InviteAccepted",
    "MemberJoinedViaDomain", "TeamSettingsUpdated", "InviteLinkToggled", "UserGroupCreated",
    "UserGroupUpdated", "UserGroupDeleted", "UserGroupArchived", "UserGroupRestored",
    "UserGroupMemberAdded", "UserGroupMemberRemoved", "UserGroupCreditCapUpdated",
    "UserGroupVisibilityUpdated", "SSOLogin", "SSOUserProvisioned", "SSOConfigCreated",
    "SSOUserAutoAddedToTeam", "SSODomainRegistrationCloned", "AssetCreated", "AssetUpdated",
    "AssetDeleted", "AssetDownloaded", "AssetShared", "AssetUnshared", "CommentCreated",
    "CommentEdited", "CommentDeleted", "CommentAgentCallRun", "CommentRemovedByModerator",
    "CommentRestoredByModerator", "CommentRemovalReasonChanged", "PermissionGranted",
    "PermissionUpdated", "PermissionRevoked", "PermissionAccepted", "SubscriptionCancelled",
    "SubscriptionReactivatedWithOffer", "SubscriptionPlanSwitched", "CreditsTransferred",
    "SeatsTransferred", "SessionShared", "SessionUnshared", "VideoProjectShared",
    "VideoProjectUnshared", "BrandKitShared", "BrandKitUnshared", "AgentCustomSkillCreated",
    "AgentCustomSkillDeleted", "AgentCustomSkillShared", "AgentCustomSkillUnshared",
    "AgentSessionShared", "AgentSessionUnshared", "AgentConnectorLinkTokenCreated",
    "AgentConnectorConnected", "AgentConnectorDisconnected", "AgentConnectorAssetExported",
    "AgentConnectorSessionEnabled", "AgentConnectorSessionDisabled", "GenerationCreated",
    "StudioSessionOpened", "AppStudioAiRunOpened", "AccountLinkCreated", "AccountLinkDeleted",
    "AdConnectionAuthorizationStarted", "AdConnectionConnected", "AdAccountSelectionUpdated",
    "AdAccountSyncRequested", "AdConnectionDisconnected", "AdWorkspaceOnboardingUpdated",
    "AdCreativeReviewSubmitted", "AdCreativeReviewCancelled", "AdCreativeReviewDecided",
    "AdCreativeApprovalRevoked", "AdCreativeArchived", "AdCreativeUnarchived", "AdPublishBatchQueued",
    "AdPublishBatchCancelled", "AdPublishBatchRetried", "OrganizationSettingsUpdated",
    "OrganizationDisabledModelsUpdated", "OrganizationAgentSandboxUpdated",
    "OrganizationApiAccountReleased", "OrganizationApiAccountMemberInvited",
    "OrganizationApiAccountMemberRoleChanged", "OrganizationApiAccountMemberRemoved",
    "WorkspaceCountryLockUpdated", "WorkspaceTagCreated", "WorkspaceTagUpdated", "WorkspaceTagDeleted",
    "WorkspaceTagAssigned", "WorkspaceTagUnassigned", "MeteredBillingConfigUpdated",
    "MeteredBillingRefillTriggered", "MeteredBillingRetryTriggered",
    "EnterpriseSpendCapEnforcementUpdated", "OnboardingBonusGranted",
    "AwsMarketplaceEnterpriseSubscriptionLinked",
)  # fmt: skip


class Action(StrEnum):
    """What taxiway records, by the SDK's names (see the table above)."""

    ORGANIZATION_CREATED = "WorkspaceCreated"
    KEY_CREATED = "PermissionGranted"
    KEY_REVOKED = "PermissionRevoked"
    CREDITS_CHANGED = "CreditsTransferred"
    TIER_CHANGED = "SubscriptionPlanSwitched"
    SETTINGS_CHANGED = "OrganizationSettingsUpdated"
    SESSION_OPENED = "StudioSessionOpened"


assert set(Action) <= set(ACTIONS), "every recorded action must be one the SDK declares"
