// The original face-api, one plain SSD pass + landmarks + descriptors per image (as
// `detectAllFaces(img).withFaceLandmarks().withFaceDescriptors()`), JSON lines like
// `cavs-recognize --json`, for whole-process comparisons with the port.
// Set-up (outside the checkout):  mkdir /tmp/faceapi && cd /tmp/faceapi && npm init -y &&
//   npm install @vladmandic/face-api@1.7.15 @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 jpeg-js pngjs
// usage: NODE_PATH=/tmp/faceapi/node_modules FACEAPI_DIR=/tmp/faceapi node scripts/faceapi-plain.js IMAGE...
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const jpeg = require('jpeg-js');
const { PNG } = require('pngjs');
function decode(file) {
  const buf = fs.readFileSync(file);
  let w, h, data;
  if (buf[0] === 0x89) { const p = PNG.sync.read(buf); w = p.width; h = p.height; data = p.data; }
  else { const j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 2048 }); w = j.width; h = j.height; data = j.data; }
  const rgb = new Int32Array(w * h * 3);
  for (let i = 0, k = 0; i < w * h; i++) { rgb[k++] = data[4 * i]; rgb[k++] = data[4 * i + 1]; rgb[k++] = data[4 * i + 2]; }
  return tf.tensor3d(rgb, [h, w, 3], 'int32');
}
async function main() {
  const root = process.env.FACEAPI_DIR || __dirname;
  wasm.setWasmPaths(path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist') + '/', false);
  await tf.setBackend('wasm'); await tf.ready();
  const dir = path.join(root, 'node_modules/@vladmandic/face-api/model');
  for (const n of ['ssdMobilenetv1', 'faceLandmark68Net', 'faceRecognitionNet']) await faceapi.nets[n].loadFromDisk(dir);
  const opt = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5, maxResults: 100 });
  for (const file of process.argv.slice(2)) {
    const t = decode(file);
    const faces = await faceapi.detectAllFaces(t, opt).withFaceLandmarks().withFaceDescriptors();
    t.dispose();
    console.log(JSON.stringify({ image: file, faces: faces.map((f) => ({ box: [f.detection.box.x, f.detection.box.y, f.detection.box.width, f.detection.box.height], score: f.detection.score, descriptor: Array.from(f.descriptor) })) }));
  }
}
main();
