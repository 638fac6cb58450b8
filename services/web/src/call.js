// One browser call: token → WebSocket → call_start → WebRTC media → events, until hang-up or the
// server ends it. `hooks` hears what the page shows (state, transcript, trace id, bot audio).
import { openSignalling } from './signalling.js';
import { connectMedia } from './media.js';
import { playBotAudio } from './bot_audio.js';
import { callSocketUrl, fetchCallToken } from './token.js';

const ACCEPT_TIMEOUT_MS = 15000;

export async function startCall({ contactName, context, hooks }) {
  const events = hooks.events; // [{event, at, payload}] every server event, timed (performance.now)
  const { token, call_id: callId } = await fetchCallToken();
  const mic = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const micTrack = mic.getAudioTracks()[0];
  hooks.micStarted(performance.now(), micTrack);
  let media = null;
  let botAudio = null;
  let accepted;
  const acceptedOnce = new Promise((resolve, reject) => { accepted = { resolve, reject }; });

  const onEvent = (message) => {
    events.push({ event: message.event, at: performance.now(), payload: message.payload ?? null, message });
    switch (message.event) {
      case 'call_accepted':
        accepted.resolve(message.payload || {});
        break;
      case 'call_failed':
        accepted.reject(new Error(`call failed: ${message.reason}`));
        break;
      case 'play_audio':
        botAudio?.unsilence();
        hooks.botAudio('speaking');
        break;
      case 'stop_audio':
        botAudio?.silence();
        hooks.botAudio('stopped');
        break;
      case 'transcript':
        if (message.payload?.final !== false) hooks.transcript(message.payload);
        break;
      case 'call_ended':
        hooks.ended(`the call ended: ${message.reason}`);
        break;
      default:
        break;
    }
  };
  const signalling = await openSignalling(callSocketUrl(token), {
    onEvent,
    onClose: ({ code }) => {
      accepted.reject(new Error(`call socket closed (${code})`));
      hooks.ended(null);
    },
  });

  const release = () => {
    media?.close();
    botAudio?.close();
    micTrack.stop();
    signalling.close();
  };
  try {
    signalling.send('call_start', { call_id: callId, initial_vars: { contact_name: contactName } });
    const timer = setTimeout(() => accepted.reject(new Error('call_accepted did not arrive')), ACCEPT_TIMEOUT_MS);
    const acceptance = await acceptedOnce.finally(() => clearTimeout(timer));
    hooks.accepted({ callId, traceId: acceptance.trace_id ?? null });
    media = await connectMedia(signalling.request, micTrack);
    botAudio = playBotAudio(media.botTrack, context);
    hooks.mediaReady(botAudio);
  } catch (error) {
    release();
    throw error;
  }
  return {
    callId,
    hangup() {
      signalling.send('call_terminated');
      release();
    },
    release,
  };
}
