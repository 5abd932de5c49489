/**
 * Demo policy set for the Acme Pay organisation (loaded with the demo data when no policy is active yet).
 * One model for people and machines: group- and owner-based permits, then guard rails that forbid even
 * where a permit matched — agents on regulated data need an approval, prod writes by people need a fresh
 * MFA (step-up), dev identities never reach prod, break-glass needs an approval every time.
 */
import type { PolicyBundle } from '../policy/policy-bundle.js';

export const DEMO_POLICIES: PolicyBundle = {
  actions: [],
  requiredContext: {},
  policies: `// Acme Pay demo policies: one model for people and machines. Loaded with the demo organisation.

@id("engineers-read-non-regulated")
permit (principal in Group::"engineering", action == Action::"read", resource)
when { resource.sensitivity != "regulated" };

@id("payments-services-use-payments-data")
permit (principal in Group::"payments-services", action in [Action::"read", Action::"write"], resource)
when { resource.environment == "prod" && (resource.id like "payments-db*" || resource.id == "ledger-db" || resource.id == "api-payouts") };

@id("deployers-deploy-own-env")
permit (principal in Group::"deployers", action == Action::"deploy", resource)
when { resource.type == "k8s_namespace" || resource.type == "k8s_cluster" };

@id("etl-reads-warehouse-sources")
permit (principal == ServiceAccount::"etl-warehouse", action == Action::"read", resource)
when { resource.id == "s3-raw-events" || resource.id == "payments-db.transactions" || resource.id == "crm" };

@id("etl-writes-warehouse")
permit (principal == ServiceAccount::"etl-warehouse", action == Action::"write", resource)
when { resource.id like "warehouse*" };

@id("support-agent-tools")
permit (principal == AiAgent::"agent-support-bot", action in [Action::"read", Action::"invoke"], resource)
when { resource.id == "crm" || resource.id == "tickets" || resource.id == "api-refunds" };

@id("finops-agent-reads-finance")
permit (principal == AiAgent::"agent-finops", action == Action::"read", resource)
when { resource.id like "warehouse*" };

@id("owners-manage-their-resources")
permit (principal is Human, action in [Action::"read", Action::"write"], resource)
when { resource.owners.contains(principal.id) };

// Guard rails: these forbid even where a permit matched.

@id("agents-never-touch-regulated-without-approval")
@obligation("approval_required")
@approval_ttl_minutes("15")
forbid (principal is AiAgent, action, resource)
when { resource.sensitivity == "regulated" }
unless { context.approved };

@id("humans-prod-write-needs-recent-mfa")
@obligation("step_up")
@max_auth_age_minutes("15")
forbid (principal is Human, action in [Action::"write", Action::"delete", Action::"admin"], resource)
when { resource.environment == "prod" }
unless { context has auth_age_minutes && context.auth_age_minutes <= 15 };

@id("regulated-delete-needs-approval")
@obligation("approval_required")
forbid (principal, action == Action::"delete", resource)
when { resource.sensitivity == "regulated" }
unless { context.approved };

@id("high-risk-read-needs-justification")
@obligation("justification_required")
forbid (principal, action == Action::"read", resource)
when { context has risk_score && context.risk_score > 70 }
unless { context has justification };

@id("no-dev-identity-in-prod")
forbid (principal, action, resource)
when { principal.environment == "dev" && resource.environment == "prod" };

@id("break-glass-only-with-approval")
@obligation("approval_required")
@approval_ttl_minutes("30")
forbid (principal is BreakGlass, action, resource)
unless { context.approved };
`,
};
