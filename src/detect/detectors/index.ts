import type { Detector } from '../detector.js';
import { agentEscalationDetector } from './agent-escalation.js';
import { apiChainDetector } from './api-chain.js';
import { breakGlassDetector } from './break-glass.js';
import { credentialReplayDetector } from './credential-replay.js';
import { defenseEvasionDetector } from './defense-evasion.js';
import { dormantCredentialDetector } from './dormant-credential.js';
import { humanUseOfNhiDetector } from './human-use-of-nhi.js';
import { lateralMovementDetector } from './lateral-movement.js';
import { newSourceNetworkDetector } from './new-source-network.js';
import { privilegeChangeDetector } from './privilege-change.js';
import { secretsBurstDetector } from './secrets-burst.js';
import { workflowReuseDetector } from './workflow-reuse.js';

/** A fresh instance of every detector (each keeps its own working state). */
export function allDetectors(): Detector[] {
  return [
    credentialReplayDetector(),
    workflowReuseDetector(),
    apiChainDetector(),
    lateralMovementDetector(),
    agentEscalationDetector(),
    dormantCredentialDetector(),
    newSourceNetworkDetector(),
    humanUseOfNhiDetector(),
    secretsBurstDetector(),
    privilegeChangeDetector(),
    defenseEvasionDetector(),
    breakGlassDetector(),
  ];
}
