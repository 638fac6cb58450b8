// The softphone page and its scripting hook, window.voicebot (docs/softphone.md).
import { startCall } from './call.js';

// Which state may follow which; anything else is a bug in this page.
const NEXT_STATES = {
  idle: ['connecting'],
  connecting: ['in_call', 'ended'],
  in_call: ['ended'],
  ended: ['connecting'],
};

const $ = (id) => document.getElementById(id);
let current = null; // the call in progress
let context = null; // one AudioContext for the page, created on the first click (autoplay rules)
let micTrack = null;
let botAudio = null;

const voicebot = {
  state: 'idle',
  transcript: [], // [{role: "bot"|"caller", text}]
  traceId: null,
  callId: null,
  events: [], // every server event of the current call: {event, at, payload}
  micStartedAt: null, // performance.now() when the microphone started
  error: null,
  call,
  hangup,
  /** Mutes or unmutes the microphone (the track keeps running; silence is sent). */
  mute(muted) {
    if (micTrack) micTrack.enabled = !muted;
    $('mute').setAttribute('aria-pressed', String(Boolean(muted)));
    $('mute').textContent = muted ? 'Unmute' : 'Mute';
    voicebot.muted = Boolean(muted);
  },
  muted: false,
  /** The received track's 20 ms levels so far: [{at, rms}]. */
  levels: () => (botAudio ? botAudio.levels : []),
  /** The received bot audio so far, base64 WebM/Opus. */
  recording: () => (botAudio ? botAudio.recording() : Promise.resolve('')),
};
window.voicebot = voicebot;

function setState(next) {
  if (voicebot.state === next) return;
  if (!NEXT_STATES[voicebot.state].includes(next)) throw new Error(`state ${voicebot.state} → ${next}`);
  voicebot.state = next;
  $('state').textContent = next;
  $('call').disabled = next === 'connecting' || next === 'in_call';
  $('hangup').disabled = next !== 'connecting' && next !== 'in_call';
  $('mute').disabled = next !== 'in_call';
}

function showBotAudio(kind) {
  const label = $('bot-audio');
  label.className = kind;
  label.textContent = { speaking: 'bot speaking', stopped: 'bot stopped (barge-in)', silent: 'bot silent' }[kind];
}

function addTranscript({ role, text, interrupted }) {
  voicebot.transcript.push({ role, text });
  const item = document.createElement('li');
  item.className = interrupted ? `${role} interrupted` : role;
  item.textContent = `${role === 'bot' ? 'Bot' : 'You'}: ${text}`;
  $('transcript').append(item);
}

function ended(why) {
  if (why) $('error').textContent = why;
  if (voicebot.state === 'ended' || voicebot.state === 'idle') return;
  const call = current;
  current = null;
  call?.release();
  showBotAudio('silent');
  setState('ended');
}

async function call() {
  if (voicebot.state === 'connecting' || voicebot.state === 'in_call') return;
  context = context || new AudioContext();
  await context.resume();
  setState('connecting');
  Object.assign(voicebot, { transcript: [], events: [], traceId: null, callId: null, error: null, micStartedAt: null });
  $('transcript').replaceChildren();
  $('error').textContent = '';
  $('trace-id').textContent = '–';
  const hooks = {
    events: voicebot.events,
    micStarted: (at, track) => {
      voicebot.micStartedAt = at;
      micTrack = track;
      voicebot.mute(voicebot.muted);
    },
    accepted: ({ callId, traceId }) => {
      voicebot.callId = callId;
      voicebot.traceId = traceId;
      $('trace-id').textContent = traceId || '–';
    },
    mediaReady: (audio) => { botAudio = audio; },
    botAudio: showBotAudio,
    transcript: addTranscript,
    ended,
  };
  try {
    current = await startCall({ contactName: $('name').value.trim() || 'there', context, hooks });
    if (voicebot.state === 'connecting') setState('in_call');
  } catch (error) {
    voicebot.error = String(error.message || error);
    ended(voicebot.error);
  }
}

function hangup() {
  const call = current;
  if (!call) return;
  current = null;
  call.hangup();
  showBotAudio('silent');
  setState('ended');
}

$('call').addEventListener('click', () => { call(); });
$('hangup').addEventListener('click', hangup);
$('mute').addEventListener('click', () => voicebot.mute(!voicebot.muted));
