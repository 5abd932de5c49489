/**
 * Reads `aws iam get-account-authorization-details` output into principals, groups and managed policies.
 * Structural problems (not an object, a list that is not a list, a principal without Arn/Name) are errors
 * with the offending field; problems inside policy documents are warnings (see policy-document.ts).
 */
import { graphError } from '../../errors.js';
import { parseStatements, type PolicyWarning, type Statement } from './policy-document.js';
import { BUILTIN_AWS_POLICIES } from './builtin-policies.js';

export interface ManagedPolicy {
  arn: string;
  name: string;
  statements: Statement[];
  /** Non-default versions: SetDefaultPolicyVersion can switch to any of them. */
  otherVersions: { versionId: string; statements: Statement[] }[];
  attachable: boolean;
  customerManaged: boolean;
}

export interface IamGroup {
  name: string;
  arn: string;
  id: string;
  managed: string[];
  inline: Statement[];
}

export interface AccessKey {
  id: string;
  status: string;
  createDate: string | null;
  lastUsedDate: string | null;
}

export interface IamPrincipal {
  type: 'user' | 'role';
  /** Where it is in the export (`UserDetailList[3]`), for errors. */
  field: string;
  name: string;
  arn: string;
  id: string;
  path: string;
  account: string;
  groups: string[];
  managed: string[];
  inline: Statement[];
  boundaryArn: string | null;
  trust: Statement[];
  instanceProfiles: number;
  tags: Record<string, string>;
  createDate: string | null;
  lastUsed: string | null;
  accessKeys: AccessKey[];
}

export interface IamExport {
  account: string;
  principals: IamPrincipal[];
  groups: Map<string, IamGroup>;
  policies: Map<string, ManagedPolicy>;
  truncated: boolean;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(doc: Obj, key: string, field: string): unknown[] {
  const v = doc[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v))
    throw graphError('IMPORT_INVALID', `${key} must be an array`, { field: `${field}${key}` });
  return v;
}

function str(o: Obj, key: string, field: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0)
    throw graphError('IMPORT_INVALID', `${key} is required and must be a non-empty string`, {
      field: `${field}.${key}`,
    });
  return v;
}

function optStr(o: Obj, key: string): string | null {
  const v = o[key];
  return typeof v === 'string' ? v : null;
}

export function accountOf(arn: string): string {
  return arn.split(':')[4] ?? '';
}

function attachedArns(o: Obj, field: string): string[] {
  return list(o, 'AttachedManagedPolicies', `${field}.`).flatMap((a, i) => {
    if (!isObj(a))
      throw graphError('IMPORT_INVALID', 'attached policy must be an object', {
        field: `${field}.AttachedManagedPolicies[${i}]`,
      });
    return [str(a, 'PolicyArn', `${field}.AttachedManagedPolicies[${i}]`)];
  });
}

function inlinePolicies(
  o: Obj,
  key: string,
  field: string,
  prefix: string,
  warnings: PolicyWarning[],
): Statement[] {
  return list(o, key, `${field}.`).flatMap((p, i) => {
    const f = `${field}.${key}[${i}]`;
    if (!isObj(p)) throw graphError('IMPORT_INVALID', 'inline policy must be an object', { field: f });
    const name = str(p, 'PolicyName', f);
    return parseStatements(p.PolicyDocument, `${prefix}inline:${name}`, `${f}.PolicyDocument`, warnings);
  });
}

function tagsOf(o: Obj): Record<string, string> {
  const out = new Map<string, string>();
  if (Array.isArray(o.Tags)) {
    for (const t of o.Tags)
      if (isObj(t) && typeof t.Key === 'string' && typeof t.Value === 'string') out.set(t.Key, t.Value);
  }
  // fromEntries defines own properties: a tag keyed `__proto__` is kept as a tag, not taken as a prototype.
  return Object.fromEntries(out);
}

function accessKeysOf(o: Obj, field: string): AccessKey[] {
  // Not part of get-account-authorization-details; accepted when merged in from `aws iam list-access-keys`.
  const raw = o.AccessKeyMetadata ?? o.AccessKeys;
  if (raw === undefined) return [];
  if (!Array.isArray(raw))
    throw graphError('IMPORT_INVALID', 'AccessKeyMetadata must be an array', {
      field: `${field}.AccessKeyMetadata`,
    });
  return raw.map((k, i) => {
    const f = `${field}.AccessKeyMetadata[${i}]`;
    if (!isObj(k)) throw graphError('IMPORT_INVALID', 'access key must be an object', { field: f });
    return {
      id: str(k, 'AccessKeyId', f),
      status: optStr(k, 'Status') ?? 'Active',
      createDate: optStr(k, 'CreateDate'),
      lastUsedDate: isObj(k.AccessKeyLastUsed)
        ? optStr(k.AccessKeyLastUsed, 'LastUsedDate')
        : optStr(k, 'LastUsedDate'),
    };
  });
}

export function readIamExport(doc: unknown, warnings: PolicyWarning[]): IamExport {
  if (!isObj(doc))
    throw graphError('IMPORT_INVALID', 'an IAM authorization-details export is a JSON object', {
      field: 'body',
    });
  const keys = ['UserDetailList', 'GroupDetailList', 'RoleDetailList', 'Policies'];
  if (!keys.some((k) => k in doc)) {
    throw graphError(
      'IMPORT_INVALID',
      `not an aws iam get-account-authorization-details export (expected ${keys.join(', ')})`,
      {
        field: 'body',
      },
    );
  }
  const policies = new Map<string, ManagedPolicy>();
  list(doc, 'Policies', '').forEach((p, i) => {
    const f = `Policies[${i}]`;
    if (!isObj(p)) throw graphError('IMPORT_INVALID', 'policy must be an object', { field: f });
    const arn = str(p, 'Arn', f);
    const name = str(p, 'PolicyName', f);
    const defaultId = optStr(p, 'DefaultVersionId');
    let statements: Statement[] = [];
    const otherVersions: ManagedPolicy['otherVersions'] = [];
    list(p, 'PolicyVersionList', `${f}.`).forEach((v, j) => {
      const vf = `${f}.PolicyVersionList[${j}]`;
      if (!isObj(v)) throw graphError('IMPORT_INVALID', 'policy version must be an object', { field: vf });
      const versionId = optStr(v, 'VersionId') ?? `v${j + 1}`;
      const isDefault =
        v.IsDefaultVersion === true || (v.IsDefaultVersion === undefined && versionId === defaultId);
      const st = parseStatements(
        v.Document,
        `managed:${name}${isDefault ? '' : `@${versionId}`}`,
        `${vf}.Document`,
        warnings,
      );
      if (isDefault) statements = st;
      else otherVersions.push({ versionId, statements: st });
    });
    policies.set(arn, {
      arn,
      name,
      statements,
      otherVersions,
      attachable: p.IsAttachable !== false,
      customerManaged: !arn.includes(':aws:policy/'),
    });
  });
  const groups = new Map<string, IamGroup>();
  list(doc, 'GroupDetailList', '').forEach((g, i) => {
    const f = `GroupDetailList[${i}]`;
    if (!isObj(g)) throw graphError('IMPORT_INVALID', 'group must be an object', { field: f });
    const name = str(g, 'GroupName', f);
    groups.set(name, {
      name,
      arn: str(g, 'Arn', f),
      id: optStr(g, 'GroupId') ?? name,
      managed: attachedArns(g, f),
      inline: inlinePolicies(g, 'GroupPolicyList', f, `group:${name}/`, warnings),
    });
  });
  const principals: IamPrincipal[] = [];
  list(doc, 'UserDetailList', '').forEach((u, i) => {
    const f = `UserDetailList[${i}]`;
    if (!isObj(u)) throw graphError('IMPORT_INVALID', 'user must be an object', { field: f });
    const arn = str(u, 'Arn', f);
    const groupList = list(u, 'GroupList', `${f}.`);
    if (!groupList.every((x) => typeof x === 'string'))
      throw graphError('IMPORT_INVALID', 'GroupList must list group names', { field: `${f}.GroupList` });
    principals.push({
      type: 'user',
      field: f,
      name: str(u, 'UserName', f),
      arn,
      id: optStr(u, 'UserId') ?? arn,
      path: optStr(u, 'Path') ?? '/',
      account: accountOf(arn),
      groups: groupList,
      managed: attachedArns(u, f),
      inline: inlinePolicies(u, 'UserPolicyList', f, '', warnings),
      boundaryArn: isObj(u.PermissionsBoundary)
        ? optStr(u.PermissionsBoundary, 'PermissionsBoundaryArn')
        : null,
      trust: [],
      instanceProfiles: 0,
      tags: tagsOf(u),
      createDate: optStr(u, 'CreateDate'),
      lastUsed: optStr(u, 'PasswordLastUsed'),
      accessKeys: accessKeysOf(u, f),
    });
  });
  list(doc, 'RoleDetailList', '').forEach((r, i) => {
    const f = `RoleDetailList[${i}]`;
    if (!isObj(r)) throw graphError('IMPORT_INVALID', 'role must be an object', { field: f });
    const arn = str(r, 'Arn', f);
    const name = str(r, 'RoleName', f);
    principals.push({
      type: 'role',
      field: f,
      name,
      arn,
      id: optStr(r, 'RoleId') ?? arn,
      path: optStr(r, 'Path') ?? '/',
      account: accountOf(arn),
      groups: [],
      managed: attachedArns(r, f),
      inline: inlinePolicies(r, 'RolePolicyList', f, '', warnings),
      boundaryArn: isObj(r.PermissionsBoundary)
        ? optStr(r.PermissionsBoundary, 'PermissionsBoundaryArn')
        : null,
      trust:
        r.AssumeRolePolicyDocument === undefined
          ? []
          : parseStatements(
              r.AssumeRolePolicyDocument,
              `trust:${name}`,
              `${f}.AssumeRolePolicyDocument`,
              warnings,
            ),
      instanceProfiles: Array.isArray(r.InstanceProfileList) ? r.InstanceProfileList.length : 0,
      tags: tagsOf(r),
      createDate: optStr(r, 'CreateDate'),
      lastUsed: isObj(r.RoleLastUsed) ? optStr(r.RoleLastUsed, 'LastUsedDate') : null,
      accessKeys: [],
    });
  });
  // AWS managed policies referenced but not included in the export: use what we know of the common ones.
  const referenced = new Set([
    ...principals.flatMap((p) => p.managed),
    ...[...groups.values()].flatMap((g) => g.managed),
  ]);
  for (const arn of referenced) {
    if (policies.has(arn)) continue;
    const known = arn.replace(/^arn:aws[a-z-]*:/, 'arn:aws:');
    // Own keys only: a referenced "ARN" such as `constructor` must not find an inherited member.
    const builtin = Object.hasOwn(BUILTIN_AWS_POLICIES, known) ? BUILTIN_AWS_POLICIES[known] : undefined;
    if (builtin) {
      const name = arn.split('/').pop() ?? arn;
      policies.set(arn, {
        arn,
        name,
        statements: parseStatements(builtin, `managed:${name}`, `builtin:${name}`, warnings),
        otherVersions: [],
        attachable: true,
        customerManaged: false,
      });
    } else {
      warnings.push({
        field: arn,
        code: 'UNKNOWN_ELEMENT',
        message: `attached managed policy ${arn} is not in the export; its permissions are unknown and not modelled`,
      });
    }
  }
  const accounts = new Set(principals.map((p) => p.account).filter((a) => a.length > 0));
  for (const g of groups.values()) accounts.add(accountOf(g.arn));
  if (accounts.size > 1) {
    throw graphError(
      'IMPORT_INVALID',
      `export mixes accounts ${[...accounts].join(', ')}; import one account at a time`,
      {
        field: 'body',
      },
    );
  }
  return {
    account: [...accounts][0] ?? 'unknown',
    principals,
    groups,
    policies,
    truncated: doc.IsTruncated === true,
  };
}
