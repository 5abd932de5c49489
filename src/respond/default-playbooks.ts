/**
 * Built-in playbooks, used until an operator stores a version of the same id. They run in `enforce` mode:
 * the tier escalation and the dependency checks keep them from surprising production.
 */
export const DEFAULT_PLAYBOOKS: Record<string, string> = {
  'leaked-credential': `apiVersion: bulkhead/v1
kind: Playbook
id: leaked-credential
description: A secret was found in a repository, a paste or a scanner report. Revoke it now.
mode: enforce
priority: 10
match:
  rules: [leaked-secret]
  min_severity: high
escalation: { T0: auto, T1: auto, T2: auto, T3: auto }
steps:
  - id: open
    action: open_incident
  - id: revoke
    action: revoke_credential
  - id: page
    action: notify
    with: { channel: page }
  - id: verify
    action: verify_contained
`,
  'credential-misuse': `apiVersion: bulkhead/v1
kind: Playbook
id: credential-misuse
description: A credential or task token is used where it must not be (replay, reuse outside its task).
mode: enforce
priority: 20
match:
  rules: [credential-replay, workflow-reuse, api-chain-known-bad, nhi-privilege-change, defense-evasion]
  min_severity: medium
escalation: { T0: auto, T1: auto, T2: approval, T3: approval }
steps:
  - id: open
    action: open_incident
  - id: revoke-tokens
    action: revoke_tokens
  - id: disable-task
    action: disable_task
  - id: quarantine
    action: quarantine_identity
  - id: revoke-credential
    action: revoke_credential
  - id: page
    action: notify
    with: { channel: page }
  - id: verify
    action: verify_contained
`,
  'privileged-account-use': `apiVersion: bulkhead/v1
kind: Playbook
id: privileged-account-use
description: A break-glass or shared account was used. Open an incident and page its owners; contain nothing.
mode: enforce
priority: 30
match:
  rules: [break-glass-use, shared-account-use]
steps:
  - id: open
    action: open_incident
  - id: page
    action: notify
    with: { channel: page }
`,
};
