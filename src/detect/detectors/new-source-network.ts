/**
 * New source network for a machine credential (ATT&CK T1078.004). Workloads call from a small, stable set of
 * networks; a learned machine identity calling from a network it has never used is the typical sign of a
 * key copied off the machine it belongs to.
 */
import type { Detector } from '../detector.js';
import { describeActor, describeSource, machineness } from '../detector.js';
import { isIpNetwork } from '../baseline.js';

export function newSourceNetworkDetector(): Detector {
  return {
    rules: ['new-source-network'],
    inspect({ event, baseline, learned }) {
      if (!learned || !baseline || baseline.networks.size === 0) return undefined;
      const network = event.src.network;
      if (!isIpNetwork(network) || baseline.networks.has(network)) return undefined;
      const m = machineness(event);
      const longLivedKey = event.credential !== undefined && !event.credential.temporary;
      if (m === 'human' || (m === 'unknown' && !longLivedKey)) return undefined;
      return [
        {
          rule_id: 'new-source-network',
          title: 'Machine credential used from a new network',
          severity: 'medium',
          techniques: ['T1078.004'],
          explanation: `${describeActor(event)} called ${event.action} ${describeSource(event)} at ${event.time}; the network ${network} is not among the ${baseline.networks.size} networks it has used before (${[...baseline.networks].slice(0, 3).join(', ')}${baseline.networks.size > 3 ? ', …' : ''}). A machine credential that changes networks has usually been copied.`,
          suggested_response:
            'Check whether the workload moved (new region, new NAT); if not, revoke the credential and find where it was copied from.',
          evidence: [event],
          discriminator: network,
        },
      ];
    },
  };
}
