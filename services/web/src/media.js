// WebRTC through mediasoup-client: one send transport for the microphone, one receive transport
// for the bot's audio, all set up over mediasoup_request (docs/media-signalling.md).
import { Device } from 'mediasoup-client';

function transportOptions(answer) {
  return {
    id: answer.transport_id,
    iceParameters: answer.ice_parameters,
    iceCandidates: answer.ice_candidates,
    dtlsParameters: answer.dtls_parameters,
  };
}

async function createTransport(device, request, direction) {
  const answer = await request('createWebRtcTransport');
  const options = transportOptions(answer);
  const transport = direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    request('connectWebRtcTransport', { transport_id: transport.id, dtls_parameters: dtlsParameters })
      .then(() => callback(), errback);
  });
  if (direction === 'send') {
    transport.on('produce', ({ kind, rtpParameters }, callback, errback) => {
      request('produce', { transport_id: transport.id, kind, rtp_parameters: rtpParameters })
        .then((data) => callback({ id: data.producer_id }), errback);
    });
  }
  return transport;
}

/** Produces `micTrack` and consumes the bot's audio; returns the bot's track and a close(). */
export async function connectMedia(request, micTrack) {
  const device = new Device();
  const { rtp_capabilities: routerRtpCapabilities } = await request('getRouterRtpCapabilities');
  await device.load({ routerRtpCapabilities });
  if (!device.canProduce('audio')) throw new Error('this browser cannot send Opus audio to the server');

  const sendTransport = await createTransport(device, request, 'send');
  const recvTransport = await createTransport(device, request, 'recv');
  const producer = await sendTransport.produce({
    track: micTrack,
    codecOptions: { opusStereo: false, opusDtx: false, opusFec: true },
    stopTracks: false,
  });
  const consumed = await request('consume', {
    transport_id: recvTransport.id,
    producer_id: 'bot',
    rtp_capabilities: device.rtpCapabilities,
  });
  const consumer = await recvTransport.consume({
    id: consumed.consumer_id,
    producerId: consumed.producer_id,
    kind: consumed.kind,
    rtpParameters: consumed.rtp_parameters,
  });
  return {
    botTrack: consumer.track,
    transports: { send: sendTransport, recv: recvTransport },
    close() {
      producer.close();
      consumer.close();
      sendTransport.close();
      recvTransport.close();
    },
  };
}
