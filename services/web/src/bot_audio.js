// The bot's received track: played through WebAudio (so stop_audio can silence it at once, not
// after the jitter buffer drains), measured (a 20 ms level envelope of what arrives) and recorded
// (MediaRecorder, for support and the browser tests).

const LEVEL_INTERVAL_MS = 20;
const MAX_LEVELS = 90000; // 30 minutes of 20 ms levels

export function playBotAudio(track, context) {
  const stream = new MediaStream([track]);
  // Chromium delivers a remote WebRTC track to WebAudio only while a media element plays it too.
  const sink = new Audio();
  sink.muted = true;
  sink.srcObject = stream;
  sink.play().catch(() => {});

  const source = context.createMediaStreamSource(stream);
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  const gain = context.createGain();
  source.connect(analyser);
  source.connect(gain).connect(context.destination);

  const levels = []; // {at: performance.now() ms, rms: 0..1} of the received track
  const samples = new Float32Array(analyser.fftSize);
  const sampler = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    if (levels.length >= MAX_LEVELS) levels.shift();
    levels.push({ at: performance.now(), rms: Math.sqrt(sum / samples.length) });
  }, LEVEL_INTERVAL_MS);

  const recorder = new MediaRecorder(stream, { mimeType: 'audio/webm;codecs=opus' });
  const chunks = [];
  recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  recorder.start(1000);

  return {
    levels,
    /** stop_audio: drop what is buffered and playing, now. */
    silence() { gain.gain.setValueAtTime(0, context.currentTime); },
    /** play_audio: the next stream is heard. */
    unsilence() { gain.gain.setValueAtTime(1, context.currentTime); },
    /** The recording so far, as a base64 WebM/Opus string. */
    async recording() {
      if (recorder.state === 'recording') {
        await new Promise((resolve) => {
          recorder.addEventListener('dataavailable', resolve, { once: true });
          recorder.requestData();
        });
      }
      const bytes = new Uint8Array(await new Blob(chunks, { type: 'audio/webm' }).arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(binary);
    },
    close() {
      clearInterval(sampler);
      if (recorder.state !== 'inactive') recorder.stop();
      source.disconnect();
      gain.disconnect();
      sink.srcObject = null;
    },
  };
}
