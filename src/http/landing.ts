export function landingPage(version: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bulkhead</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
code{background:#f2f4f7;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><h1>Bulkhead ${version}</h1>
<p>Assume-breach control plane for human and non-human identities.</p>
<ul>
<li><a href="/openapi.json">API reference (OpenAPI 3.1)</a></li>
<li><a href="/healthz">/healthz</a> and <a href="/readyz">/readyz</a></li>
</ul>
<p>Every other endpoint needs an API key: <code>curl -H "Authorization: Bearer $BULKHEAD_TOKEN" …/v1/identities</code>.
The CLI is <code>npx bulkhead --help</code>.</p>
</body></html>`;
}
