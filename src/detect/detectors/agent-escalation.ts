/**
 * Agent tool escalation (OWASP Agentic: tool misuse, privilege compromise). An AI agent declares the tools it
 * may call (inventory label `tools`, comma-separated, `crm.*` wildcards allowed); calling anything else is
 * acting beyond intent. An agent collecting refusals on different actions is probing for a way up.
 */
import type { AlertDraft } from '../alert.js';
import type { Detector } from '../detector.js';
import { describeActor, describeSource, SlidingWindows } from '../detector.js';
import type { NormalizedEvent } from '../event.js';

const PROBING_THRESHOLD = 3;
const PROBING_WINDOW_MS = 15 * 60_000;

export function declaredTools(event: NormalizedEvent): string[] | undefined {
  const raw = event.actor.labels?.tools;
  if (event.actor.kind !== 'ai_agent' || raw === undefined) return undefined;
  return raw
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

export function toolAllowed(tools: readonly string[], action: string): boolean {
  return tools.some((t) => t === action || (t.endsWith('*') && action.startsWith(t.slice(0, -1))));
}

export function agentEscalationDetector(): Detector {
  const refusals = new SlidingWindows<NormalizedEvent>();
  return {
    rules: ['agent-tool-escalation'],
    inspect({ event, key }) {
      if (event.actor.kind !== 'ai_agent') return undefined;
      const out: AlertDraft[] = [];
      const tools = declaredTools(event);
      if (tools && !toolAllowed(tools, event.action)) {
        out.push({
          rule_id: 'agent-tool-escalation',
          title: 'AI agent acted beyond its declared tools',
          severity: event.outcome === 'deny' ? 'medium' : 'high',
          techniques: ['T1078', 'T1548'],
          explanation: `The AI agent ${describeActor(event)} called ${event.action}${event.resource ? ` on ${event.resource}` : ''} (${event.outcome}) ${describeSource(event)} at ${event.time}, which is not among its declared tools (${tools.join(', ')}). An agent steered by injected instructions reaches for tools it was never given; whether or not the call succeeded, its inputs need review.`,
          suggested_response:
            'Suspend the agent’s task tokens, review the prompt and tool inputs that led to the call, and keep it quarantined until its owner confirms the declared tool list.',
          evidence: [event],
          discriminator: `tool:${event.action}`,
        });
      }
      if (event.outcome === 'deny') {
        const w = refusals.push(key, event.timeMs, event, PROBING_WINDOW_MS);
        const distinct = new Set(w.map((x) => x.v.action));
        if (distinct.size >= PROBING_THRESHOLD) {
          refusals.clear(key);
          out.push({
            rule_id: 'agent-tool-escalation',
            title: 'AI agent probing for more privilege',
            severity: 'high',
            techniques: ['T1078', 'T1548'],
            explanation: `The AI agent ${describeActor(event)} was refused ${distinct.size} different actions within ${PROBING_WINDOW_MS / 60_000} minutes (${[...distinct].join(', ')}). Step-by-step attempts at ever more privileged actions are the signature of an agent being driven to escalate.`,
            suggested_response:
              'Suspend the agent, review its conversation and tool inputs for injected instructions, and revoke its tokens.',
            evidence: w.map((x) => x.v),
            discriminator: 'probing',
          });
        }
      }
      return out;
    },
  };
}
