// Interop check of `ser serve` with the official Node gRPC implementation (@grpc/grpc-js).
//   node interop.js ADDRESS WAV [API_KEY]   (ADDRESS like 127.0.0.1:50051; the server must require API_KEY when given)
//   INTEROP_COMPRESSION=gzip node interop.js ...   the client compresses every message it sends with gzip
// Streams WAV (G.711 mu-law stereo 8 kHz, format tag 7 with a fact chunk) as MULAW, checks speech and final
// emotion events per channel, health, INVALID_ARGUMENT for audio before config, UNAUTHENTICATED for a wrong key.
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [address, wavPath, apiKey] = process.argv.slice(2);
if (!address || !wavPath) {
  console.error('usage: node interop.js ADDRESS WAV [API_KEY]');
  process.exit(2);
}
const protos = path.join(__dirname, '..', '..', 'protos');
const def = loader.loadSync(['realtime_ser/v1/emotion.proto', 'grpc/health/v1/health.proto'], {
  includeDirs: [protos], keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
});
const pkg = grpc.loadPackageDefinition(def);
const creds = grpc.credentials.createInsecure();
// grpc-js compression algorithms: 0 identity, 1 deflate, 2 gzip.
const compression = process.env.INTEROP_COMPRESSION === 'gzip' ? { 'grpc.default_compression_algorithm': 2 } : {};
const recognizer = new pkg.realtime_ser.v1.EmotionRecognizer(address, creds, compression);
const health = new pkg.grpc.health.v1.Health(address, creds, compression);

function metadata(key) {
  const md = new grpc.Metadata();
  if (key) md.set('authorization', `Bearer ${key}`);
  return md;
}

function readWav(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a WAV file');
  let fmt = null;
  for (let off = 12; off + 8 <= buf.length;) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      fmt = { tag: buf.readUInt16LE(off + 8), channels: buf.readUInt16LE(off + 10), rate: buf.readUInt32LE(off + 12) };
    } else if (id === 'data') {
      return { fmt, data: buf.subarray(off + 8, Math.min(off + 8 + size, buf.length)) };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error('no data chunk');
}

const failures = [];
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

function streamAudio(config, chunks, key) {
  return new Promise((resolve) => {
    const responses = [];
    const call = recognizer.StreamingRecognize(metadata(key));
    call.on('data', (r) => responses.push(r));
    call.on('error', (e) => resolve({ responses, code: e.code, details: e.details }));
    call.on('status', (s) => { if (s.code === grpc.status.OK) resolve({ responses, code: 0, details: s.details }); });
    if (config) call.write({ config });
    for (const c of chunks) call.write({ audio_content: c });
    call.end();
  });
}

async function main() {
  const { fmt, data } = readWav(wavPath);
  check(fmt.tag === 7 && fmt.channels === 2 && fmt.rate === 8000, `WAV is mu-law stereo 8 kHz (tag ${fmt.tag}, ${fmt.channels} ch, ${fmt.rate} Hz)`);
  const seconds = 40;
  const audio = data.subarray(0, Math.min(data.length, seconds * 8000 * 2));
  const chunks = [];
  for (let off = 0; off < audio.length; off += 1600) chunks.push(audio.subarray(off, off + 1600));

  const h = await new Promise((res) => health.Check({ service: '' }, (err, r) => res(err ? { error: err } : r)));
  check(!h.error && h.status === 'SERVING', `health Check is SERVING (${h.error ? h.error.message : h.status})`);

  const config = {
    encoding: 'MULAW', sample_rate_hertz: 8000, audio_channel_count: 2,
    channel_names: ['agent', 'customer'], interim_results: true,
  };
  const run = await streamAudio(config, chunks, apiKey);
  check(run.code === grpc.status.OK, `StreamingRecognize ends OK (${run.code} ${run.details || ''})`);
  for (const ch of [0, 1]) {
    const starts = run.responses.filter((r) => r.response === 'speech_event' && r.speech_event.channel === ch && r.speech_event.type === 'SPEECH_START');
    const finals = run.responses.filter((r) => r.response === 'result' && r.result.channel === ch && r.result.is_final);
    check(starts.length > 0, `channel ${ch}: ${starts.length} speech starts`);
    check(finals.length > 0 && finals.every((f) => f.result.end_seconds > f.result.start_seconds && f.result.scores.length > 0),
      `channel ${ch}: ${finals.length} final segments with scores`);
  }
  check(run.responses.some((r) => r.response === 'stream_stats'), 'stream_stats received');

  const early = await streamAudio(null, [audio.subarray(0, 1600)], apiKey);
  check(early.code === grpc.status.INVALID_ARGUMENT, `audio before config is INVALID_ARGUMENT (${early.code}: ${early.details})`);

  if (apiKey) {
    const wrong = await streamAudio(config, [audio.subarray(0, 1600)], apiKey + '-wrong');
    check(wrong.code === grpc.status.UNAUTHENTICATED, `wrong API key is UNAUTHENTICATED (${wrong.code}: ${wrong.details})`);
  }

  recognizer.close();
  health.close();
  if (failures.length) {
    console.error(`interop: ${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log('interop: all checks passed');
}

main().catch((e) => { console.error(e); process.exit(1); });
