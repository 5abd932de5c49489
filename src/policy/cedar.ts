/**
 * The one place Cedar (cedar-wasm) is loaded, with the V8 settings it needs.
 *
 * V8 tiers hot WebAssembly functions up to optimised code on background threads, by default as many
 * compilation tasks as it likes. On Cedar's 4 MB module the first policy validation then leaves ~55 MB of
 * freed compiler memory resident in per-thread malloc arenas (measured: RSS after validating the demo policies
 * 144 MB with the default, 88 MB with one task). One background task still tiers up every hot function, so
 * steady-state decision throughput is unchanged (`npm run bench -- policy` compares against the raw call);
 * only the first seconds of tier-up take longer. The flag must be set before the module is compiled, hence
 * this wrapper: import Cedar from here, never from the package directly.
 */
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import type * as CedarWasm from '@cedar-policy/cedar-wasm/nodejs';

v8.setFlagsFromString('--wasm-num-compilation-tasks=1');
// Node 20's V8 aborts the process ("Fatal error ... unreachable code" in Deoptimizer::
// DoComputeBuiltinContinuation) when it lazily deoptimises a TurboFan frame that inlined a JS->Wasm call.
// The Cedar call is exactly such a hot JS->Wasm call; bench/policy.ts reproduced the abort under HTTP load.
// Turning that one inlining off (before the hot path is optimised) removes the crash at no measurable cost.
v8.setFlagsFromString('--no-turbo-inline-js-wasm-calls');

const require = createRequire(import.meta.url);
const cedar = require('@cedar-policy/cedar-wasm/nodejs') as typeof CedarWasm;

export default cedar;
