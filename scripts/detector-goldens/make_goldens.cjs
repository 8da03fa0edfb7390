// Golden outputs of face-api's Tiny Face Detector, its tiny 68-point landmark net and its expression
// net for emopost's parity tests (tests/test_detector.cpp).
// It runs the npm package itself, on the pure-JavaScript tfjs CPU backend, over the sample photos:
// each photo is decoded (jpeg-js), scaled to PHOTO_WIDTH, saved as PNG (lossless, so the C++ test
// reads the very same pixels), and run through the detector at two input sizes. The boxes, scores
// and the raw 13x13 output of the first photo go to goldens.json; at input size 416, so do each
// face's crop (the box clipped and floored, as face-api cuts it) and its 68 landmarks in the crop's
// pixels (face-api's `unshiftedLandmarks`), and the expression net's 7 probabilities for the same crop
// (face-api's order: neutral, happy, sad, angry, fearful, disgusted, surprised).
//   cd scripts/detector-goldens && npm ci && node make_goldens.cjs
const fs = require('fs');
const path = require('path');
const jpeg = require('jpeg-js');
const { PNG } = require('pngjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const root = path.resolve(__dirname, '../..');
const out = path.join(root, 'tests/data/detector');
const PHOTO_WIDTH = 400;
const photos = ['group1.jpg', 'group3.jpg', 'group5.jpg', 'group6.jpg', 'no_face_fruits.jpg'];

(async () => {
  const tf = faceapi.tf;
  await tf.setBackend('cpu');
  await tf.ready();
  const modelDir = path.join(__dirname, 'node_modules/@vladmandic/face-api/model');
  const load = async (net, name) => {
    const m = JSON.parse(fs.readFileSync(path.join(modelDir, `${name}-weights_manifest.json`)));
    const b = fs.readFileSync(path.join(modelDir, m[0].paths[0]));
    await net.loadFromWeightMap(tf.io.decodeWeights(b.buffer.slice(b.byteOffset, b.byteOffset + b.length), m[0].weights));
  };
  await load(faceapi.nets.tinyFaceDetector, 'tiny_face_detector_model');
  await load(faceapi.nets.faceLandmark68TinyNet, 'face_landmark_68_tiny_model');
  await load(faceapi.nets.faceExpressionNet, 'face_expression_model');

  const goldens = { package: '@vladmandic/face-api@1.7.15', backend: tf.getBackend(), tfjs: tf.version.tfjs, photos: [] };
  for (const name of photos) {
    const jpg = jpeg.decode(fs.readFileSync(path.join(root, 'samples/photos', name)), { useTArray: true, formatAsRGBA: false });
    const full = tf.tensor3d(jpg.data, [jpg.height, jpg.width, 3], 'int32');
    const height = Math.round(jpg.height * PHOTO_WIDTH / jpg.width);
    const small = tf.tidy(() => tf.image.resizeBilinear(full, [height, PHOTO_WIDTH], false, true).round().clipByValue(0, 255).toInt());
    const rgb = await small.data();
    const png = new PNG({ width: PHOTO_WIDTH, height });
    for (let i = 0; i < PHOTO_WIDTH * height; ++i) {
      png.data[4 * i] = rgb[3 * i];
      png.data[4 * i + 1] = rgb[3 * i + 1];
      png.data[4 * i + 2] = rgb[3 * i + 2];
      png.data[4 * i + 3] = 255;
    }
    const file = name.replace(/\.jpg$/, '.png');
    fs.writeFileSync(path.join(out, file), PNG.sync.write(png));
    const entry = { file, width: PHOTO_WIDTH, height, runs: [] };
    for (const inputSize of [416, 320]) {
      const options = new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: 0.3 });
      const dets = await faceapi.detectAllFaces(small, options);
      const faces = dets.map((d) => ({ score: d.score, box: [d.box.x, d.box.y, d.box.width, d.box.height] }));
      if (inputSize === 416) {
        const withLandmarks = await faceapi.detectAllFaces(small, options).withFaceLandmarks(true);
        withLandmarks.forEach((r, i) => {
          const crop = r.detection.box.clipAtImageBorders(PHOTO_WIDTH, height);
          faces[i].crop = [crop.x, crop.y, crop.width, crop.height];
          faces[i].landmarks = r.unshiftedLandmarks.positions.map((p) => [p.x, p.y]);
        });
        const withExpressions = await faceapi.detectAllFaces(small, options).withFaceExpressions();
        withExpressions.forEach((r, i) => {
          faces[i].expressions = faceapi.FACE_EXPRESSION_LABELS.map((label) => r.expressions[label]);
        });
      }
      entry.runs.push({ input_size: inputSize, score_threshold: 0.3, faces });
    }
    if (goldens.photos.length === 0) {  // the raw output grid, NHWC, before any decoding
      const input = await faceapi.nets.tinyFaceDetector.forward(small, 416);
      entry.raw_416 = { shape: input.shape, values: Array.from(await input.data()) };
    }
    goldens.photos.push(entry);
    console.log(file, entry.runs.map((r) => `${r.input_size}: ${r.faces.length} faces`).join(', '));
    tf.dispose([full, small]);
  }
  fs.writeFileSync(path.join(out, 'goldens.json'), JSON.stringify(goldens, null, 1) + '\n');
})();
