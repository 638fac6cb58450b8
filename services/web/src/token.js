// The browser's credential: a short-lived, single-call token from POST /api/v1/web-token on the
// page's own origin (the page can never hold a gateway key; docs/softphone.md).

export async function fetchCallToken() {
  const response = await fetch('/api/v1/web-token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{}',
    credentials: 'omit',
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`call token refused: ${body.code || response.status} ${body.message || ''}`.trim());
  return body; // {token, call_id, gateway_id, expires_at}
}

export function callSocketUrl(token) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/api/v1/call?token=${encodeURIComponent(token)}`;
}
