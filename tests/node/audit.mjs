// Runs the GraphQL-over-HTTP server audits of graphql-http against a server and
// prints one JSON object per audit on stdout: {"id", "name", "status", "reason"}.
// Exits 0 when every audit ran, whatever the results, because the Python test
// judges them.
//
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// AUDIT_TOKEN, when set, is sent as a bearer token with every request, because
// the server serves introspection (which some audits use) to logged-in callers
// only.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://127.0.0.1:PORT/graphql');
  process.exit(2);
}
const token = process.env.AUDIT_TOKEN;

function fetchWithToken(input, init = {}) {
  const headers = new Headers(init.headers);
  if (token) {
    headers.set('authorization', `Bearer ${token}`);
  }
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: fetchWithToken });
for (const result of results) {
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    line.reason = result.reason;
  }
  console.log(JSON.stringify(line));
}
