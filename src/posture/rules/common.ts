/** Shared by the posture rules: the framework mapping of each risk and the finding constructor. */
import type { Credential, Identity } from '../../inventory/types.js';
import type { Finding, NhiId } from '../model.js';
import type { PostureInput } from '../rules.js';

export const DAY = 86_400_000;

/** What every rule reads: the input plus indexes built once. */
export interface RuleContext {
  input: PostureInput;
  byId: Map<string, Identity>;
  credsOf: Map<string, Credential[]>;
  out: Finding[];
}

interface Mapping {
  nist: string[];
  attack: string[];
  agentic?: string[];
}

const MAP: Record<NhiId, Mapping> = {
  NHI1: { nist: ['PR.AA-01', 'ID.AM-08'], attack: ['T1078'] },
  NHI2: { nist: ['PR.DS-01', 'PR.AA-01', 'DE.CM-09'], attack: ['T1552', 'T1552.001'] },
  NHI3: { nist: ['GV.SC-07', 'PR.AA-05'], attack: ['T1199'] },
  NHI4: { nist: ['PR.AA-03'], attack: ['T1078.004'] },
  NHI5: { nist: ['PR.AA-05'], attack: ['T1078', 'T1098'], agentic: ['ASI03'] },
  NHI6: { nist: ['PR.PS-01'], attack: ['T1078.004', 'T1552.005'] },
  NHI7: { nist: ['PR.AA-01'], attack: ['T1552'] },
  NHI8: { nist: ['PR.IR-01', 'PR.AA-05'], attack: ['T1078'] },
  NHI9: { nist: ['PR.AA-01', 'DE.CM-03'], attack: ['T1078'] },
  NHI10: { nist: ['PR.AA-01', 'DE.CM-03'], attack: ['T1078'], agentic: ['ASI03'] },
};

export function finding(
  nhi: NhiId,
  rule: string,
  subject: string,
  f: Omit<Finding, 'id' | 'rule' | 'nhi' | 'nist' | 'attack' | 'agentic' | 'credentialId' | 'resourceId'> &
    Partial<Pick<Finding, 'credentialId' | 'resourceId'>>,
  isAgent = false,
): Finding {
  const m = MAP[nhi];
  return {
    id: `${rule}:${subject}`,
    rule,
    nhi,
    credentialId: null,
    resourceId: null,
    ...f,
    nist: m.nist,
    attack: m.attack,
    agentic: isAgent ? (m.agentic ?? []) : [],
  };
}

export function ageDays(now: Date, iso: string | null): number | null {
  return iso ? Math.floor((now.getTime() - Date.parse(iso)) / DAY) : null;
}
