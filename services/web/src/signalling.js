// The /api/v1/call WebSocket as the page uses it: events out, events in, and mediasoup_request /
// mediasoup_response paired by request_id (docs/protocol.md, docs/media-signalling.md).

const REQUEST_TIMEOUT_MS = 10000;

/** Opens the call's WebSocket; resolves once it is open. `onEvent(message)` gets every event
 * that is not a mediasoup_response; `onClose({code, reason})` once, when the socket closes. */
export function openSignalling(url, { onEvent, onClose }) {
  const socket = new WebSocket(url);
  const pending = new Map();
  let nextRequestId = 1;

  socket.addEventListener('message', (frame) => {
    let message;
    try {
      message = JSON.parse(frame.data);
    } catch {
      return; // the server only sends JSON; anything else is not ours to act on
    }
    if (message.event === 'mediasoup_response') {
      settle(pending, message.payload || {});
      return;
    }
    onEvent(message);
  });
  socket.addEventListener('close', (closed) => {
    for (const { reject, timer } of pending.values()) {
      clearTimeout(timer);
      reject(new Error(`call socket closed (${closed.code})`));
    }
    pending.clear();
    onClose({ code: closed.code, reason: closed.reason });
  });

  const send = (event, payload) => {
    if (socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(payload === undefined ? { event } : { event, payload }));
    return true;
  };

  const request = (method, data = {}) =>
    new Promise((resolve, reject) => {
      const requestId = nextRequestId++;
      const timer = setTimeout(() => {
        pending.delete(requestId);
        reject(new Error(`${method}: no answer in ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      pending.set(requestId, { resolve, reject, timer, method });
      if (!send('mediasoup_request', { request_id: requestId, method, data })) {
        clearTimeout(timer);
        pending.delete(requestId);
        reject(new Error(`${method}: the call socket is not open`));
      }
    });

  const opened = new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('close', (c) => reject(new Error(`call socket refused (${c.code})`)), { once: true });
  });

  return opened.then(() => ({ send, request, close: () => socket.close(1000, 'hang-up') }));
}

function settle(pending, payload) {
  const waiter = pending.get(payload.request_id);
  if (!waiter) return;
  pending.delete(payload.request_id);
  clearTimeout(waiter.timer);
  if (payload.ok === false) waiter.reject(new Error(`${waiter.method}: ${payload.error || 'refused'}`));
  else waiter.resolve(payload.data || {});
}
