#!/usr/bin/env bash
# `emopost report` on the small sample in the repo (tests/data/eval-sample): every file written, the
# numbers equal to what `emopost eval` reports on the same sample, every chart drawn in headless
# Chromium with no console error and no network request, and bad input noted on its figure.
# Usage: run.sh EMOPOST_BINARY ARTIFACT_DIR
set -euo pipefail
bin=$1
artifacts=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
sample=$root/tests/data/eval-sample
rm -rf "$artifacts"
mkdir -p "$artifacts"
cd "$artifacts"

# The sample holds only test splits, so the data figures read it too. The ablation's few steps of
# fine-tuning read the training and validation texts of the training sample beside it.
train_sample=$root/tests/data/samples/text
mkdir -p data/text/carer data/text/goemotions data/faces
ln -s "$train_sample"/carer/{train,val}.txt "$sample"/text/carer/test.txt data/text/carer/
ln -s "$train_sample"/goemotions/{train,dev}.tsv "$sample"/text/goemotions/{test.tsv,emotions.txt,ekman_mapping.json} data/text/goemotions/
ln -s "$sample"/faces/fer2013 data/faces/fer2013
ln -s "$sample"/faces/ferplus data/faces/ferplus
# A stand-in for photos-val (real photos are never copied into the repo): ten sample faces in its layout.
mkdir -p data/faces/photos-val/images
echo "path,label,source" >data/faces/photos-val/labels.csv
for f in $(cd "$sample/faces/fer2013/test" && ls */*.jpg | head -10); do
  ln -s "$sample/faces/fer2013/test/$f" "data/faces/photos-val/images/${f#*/}"
  folder=${f%%/*}
  case $folder in angry) label=anger;; happy) label=joy;; sad) label=sadness;; *) label=$folder;; esac
  echo "images/${f#*/},$label,sample" >>data/faces/photos-val/labels.csv
done
words=feel,feeling,like,de,en
# The shipped models carry no training log, so figures 5 and 6 read the logs of two smoke runs of
# `emopost train`, put beside the shipped models' files.
for kind in text image; do
  python3 - "$root" $kind <<'PY'
import json, sys
root, kind = sys.argv[1], sys.argv[2]
c = json.load(open(f"{root}/configs/smoke-{kind}.json"))
c.update(data_root=f"{root}/tests/data/samples", vocab=f"{root}/assets/vocab/bert-base-uncased-vocab.txt", output_dir=f"runs/smoke-{kind}")
json.dump(c, open(f"smoke-{kind}.json", "w"))
PY
  "$bin" --threads 2 train $kind --config smoke-$kind.json 2>train-$kind.log
done
mkdir -p logged/text logged/face
for d in detector landmarks fusion.json; do ln -s "$root/models/$d" logged/$d; done
for m in text face; do for f in "$root"/models/$m/*; do ln -s "$f" logged/$m/; done; done
cp runs/smoke-text/log.jsonl logged/text/log.jsonl
cp runs/smoke-image/log.jsonl logged/face/log.jsonl
echo '{"data_split": "test", "ablation_steps": 4}' >config.json
"$bin" --threads 2 report --data data --models logged --out report --config config.json --vendor-dir "$root/node_modules" 2>report.log
python3 - "$artifacts/report" <<'PY'
import json, os, sys
out = sys.argv[1]
assert os.path.getsize(os.path.join(out, "index.html")) > 100_000, "index.html is missing or has no bundled scripts"
report = json.load(open(os.path.join(out, "report.json")))
ids = [f["id"] for f in report["figures"]]
for need in ["01-class-counts", "02-text-lengths", "03-top-words", "05-text-training", "06-face-training",
             "07-text-confusion", "11-quality-by-length", "12-face-confusion", "text-per-class", "face-per-class",
             "text-most-confused", "face-most-confused", "text-reliability", "face-reliability",
             "08-attributed-words", "fusion-disagreement", "calibration-ece", "04-word-clouds", "09-attributed-clouds",
             "text-worst-mistakes", "10-ablation", "10-ablation-scores", "fused-reliability", "face-worst-mistakes",
             "13-face-photos-val-confusion", "face-photos-val-per-class"]:
    assert need in ids, f"figure {need} is missing"
for i in ids:
    for ext in ("json", "csv"):
        assert os.path.exists(os.path.join(out, "data", f"{i}.{ext}")), f"data/{i}.{ext} is missing"
html = open(os.path.join(out, "index.html")).read()
assert "http://" not in html.split("<script>")[0] and "<script src" not in html, "the page loads something"
print(f"ok - {len(ids)} figures written with their JSON and CSV")
PY

# The numbers are eval's.
"$bin" --threads 2 eval text --model "$root/models/text" --data "$sample" --split test --json >eval_text.json 2>/dev/null
"$bin" --threads 2 eval text --model "$root/models/text" --data "$sample" --split test --drop-words "$words" --json >eval_text_dropped.json 2>/dev/null
# (eval finds the detector beside the face model: run from this folder, it must. Neither it nor the
# report is told about the mirror: both follow the face folder's config.json. The report scores faces
# against the labels fusion.json was calibrated on: FER+'s majority.)
"$bin" --threads 2 eval image --model "$root/models/face" --data "$sample" --split test --detector cnn --labels ferplus \
  --face-cache eval-cache --json >eval_face.json 2>/dev/null
"$bin" --threads 2 eval image --model "$root/models/face" --data data --split photos-val --detector cnn \
  --face-cache eval-cache --json >eval_photos.json 2>/dev/null
python3 - "$artifacts" <<'PY'
import json, os, sys
a = sys.argv[1]
labels = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
for fig, ev, who in [("07-text-confusion", "eval_text.json", "text"), ("12-face-confusion", "eval_face.json", "face"),
                     ("13-face-photos-val-confusion", "eval_photos.json", "face-photos-val")]:
    rows = json.load(open(os.path.join(a, "report/data", fig + ".json")))["rows"]
    pooled = json.load(open(os.path.join(a, ev)))["pooled"]
    got = {(r["true"], r["predicted"]): r["count"] for r in rows}
    assert len(got) == 49, f"{fig}: {len(got)} cells"
    for t in labels:
        for p in labels:
            n = pooled["confusion"][t][p]
            assert got[(t, p)] == n, f"{fig}: {t}->{p} {got[(t, p)]} != eval's {n}"
    per_class = json.load(open(os.path.join(a, "report/data", who + "-per-class.json")))["rows"]
    total = sum(r["support"] for r in per_class)
    assert total == pooled["total"], f"{fig}: supports {total} != eval's {pooled['total']}"
    for r in per_class:
        assert abs(r["f1"] - pooled["per_class"][r["label"]]["f1"]) < 1e-9, f"{fig}: {r['label']} F1"
    print(f"ok - {fig} equals `emopost eval` ({total} examples)")

# Figure 10: the shipped model's rows are eval's, with and without the words; the fine-tuned copies
# are tested on every example, and their matrices are drawn side by side.
scores = json.load(open(os.path.join(a, "report/data/10-ablation-scores.json")))["rows"]
assert len(scores) == 4, scores
for row, ev in [(scores[0], "eval_text.json"), (scores[1], "eval_text_dropped.json")]:
    pooled = json.load(open(os.path.join(a, ev)))["pooled"]
    assert row["model"] == "shipped" and abs(row["accuracy"] - pooled["accuracy"]) < 1e-12, (row, pooled["accuracy"])
    assert abs(row["macro_f1"] - pooled["macro_f1"]) < 1e-12 and row["examples"] == pooled["total"], row
assert scores[0]["accuracy"] != scores[1]["accuracy"], "dropping the words changed nothing: were they dropped?"
assert all(r["examples"] == scores[0]["examples"] for r in scores), scores
ablation = json.load(open(os.path.join(a, "report/data/10-ablation.json")))
models = {r["model"] for r in ablation["rows"]}
assert models == {"fine-tuned on the full texts", "fine-tuned without the words"} and len(ablation["rows"]) == 98, models
assert any("Words dropped: de, en, feel, feeling, like" in n for n in ablation["notes"]), ablation["notes"]
print(f"ok - figure 10: {scores[0]['accuracy']:.4f} with the words, {scores[1]['accuracy']:.4f} without, as eval --drop-words says")

# Reliability before and after calibration, the fused one too; the face gallery shows its faces.
for fig in ["text-reliability", "face-reliability", "fused-reliability"]:
    f = json.load(open(os.path.join(a, "report/data", fig + ".json")))
    stages = {r["stage"] for r in f["rows"]}
    assert stages == {"before", "after"}, (fig, stages)
    assert sum(r["count"] for r in f["rows"] if r["stage"] == "after") == scores[0]["examples"] or fig == "face-reliability", fig
gallery = json.load(open(os.path.join(a, "report/data/face-worst-mistakes.json")))["rows"]
assert len(gallery) == 10 and all(r["face"].startswith("data:image/jpeg;base64,") for r in gallery), "face thumbnails"
print("ok - reliability before and after calibration for text, face and fused; 10 face thumbnails")
PY

# Drawn in Chromium by the report command itself (render-report.mjs): PNG and SVG per chart, every
# thumbnail decoded, no console error, no request beyond the file itself.
python3 - "$artifacts/report/render.json" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
assert not r["failed"] and not r["console_errors"] and not r["network_requests"], r
assert r["thumbnails"] == {"shown": 10, "broken": 0}, r["thumbnails"]
drawn = {c["id"] for c in r["charts"]}
want = {"01-class-counts", "02-text-lengths", "03-top-words", "04-word-clouds", "05-text-training", "06-face-training",
        "07-text-confusion", "08-attributed-words", "09-attributed-clouds", "10-ablation", "11-quality-by-length",
        "12-face-confusion", "text-reliability", "face-reliability", "fused-reliability", "fusion-disagreement",
        "calibration-ece"}
assert want <= drawn, f"not drawn: {sorted(want - drawn)}"
out = sys.argv[1].rsplit("/", 1)[0]
for c in r["charts"]:
    for ext in ("png", "svg"):
        assert os.path.getsize(f"{out}/{ext}/{c['id']}.{ext}") > 0, f"{ext}/{c['id']}.{ext} is empty"
print(f"ok - all 12 figures and the extras drawn ({len(drawn)} charts, each as PNG and SVG), 10 thumbnails, "
      "no console error, no network request")
PY

# Run again, unchanged: the evaluations and the attribution come from the cache, and the numbers agree.
cp report/report.json first.json
start=$(date +%s)
"$bin" --threads 2 report --data data --models logged --out report --config config.json --vendor-dir "$root/node_modules" --no-images 2>again.log
seconds=$(( $(date +%s) - start ))
for step in "evaluating the text model" "evaluating the face model" "attribution" "ablation: fine-tuning without the words" \
  "ablation: fine-tuning on the full texts" "ablation: the shipped text model without the words"; do
  grep -q "$step: from the cache" again.log || { echo "$step was not taken from the cache:"; cat again.log; exit 1; }
done
cmp -s first.json report/report.json || { echo "the cached run's numbers differ"; exit 1; }
echo "ok - a second run takes its long steps from the cache (${seconds} s)"

# Bad input: a missing split, and a training log with a broken line, are notes on their figures.
mkdir -p models/text
for f in "$root"/models/text/*; do ln -sf "$f" models/text/; done
for d in face detector landmarks; do ln -sfn "$root/models/$d" models/$d; done
printf '%s\n' '{"type":"epoch","epoch":1,"train_loss":1.2,"val_loss":1.0,"val_accuracy":0.6,"val_macro_f1":0.5}' \
  '{"type":"epoch","epoch":2,"train_lo' >models/text/log.jsonl
# A text model whose labels are not emopost's 7: its figures say so, the others are drawn.
mkdir -p mismatch/text
for f in "$root"/models/text/*; do [[ $(basename "$f") == config.json ]] || ln -sf "$f" mismatch/text/; done
for d in face detector landmarks; do ln -sfn "$root/models/$d" mismatch/$d; done
python3 - "$root/models/text/config.json" mismatch/text/config.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["id2label"]["3"] = "happiness"
c["label2id"] = {v: int(k) for k, v in c["id2label"].items()}
json.dump(c, open(sys.argv[2], "w"))
PY
echo '{"limit": 20}' >small.json
"$bin" --threads 2 report --data "$sample" --models models --out bad --config small.json --vendor-dir "$root/node_modules" --no-images 2>bad.log
python3 - "$artifacts/bad" <<'PY'
import json, os, sys
d = os.path.join(sys.argv[1], "data")
counts = json.load(open(os.path.join(d, "01-class-counts.json")))
assert any("train not read" in n for n in counts["notes"]), counts["notes"]
assert any(r["dataset"] == "FER2013 test" for r in counts["rows"]), "the splits that exist are still drawn"
curves = json.load(open(os.path.join(d, "05-text-training.json")))
assert len(curves["rows"]) == 1 and any("log.jsonl:2" in n for n in curves["notes"]), curves
ablation = json.load(open(os.path.join(d, "10-ablation.json")))
assert not ablation["rows"] and "not run" in ablation["notes"][0] and "train" in ablation["notes"][0], ablation["notes"]
print("ok - a missing split and a broken log line are notes on their figures; so is an ablation without training texts")
PY
"$bin" --threads 2 report --data "$sample" --models mismatch --out mismatched --config small.json --vendor-dir "$root/node_modules" --no-images 2>mismatch.log
python3 - "$artifacts/mismatched" <<'PY'
import json, os, sys
d = os.path.join(sys.argv[1], "data")
for fig in ["07-text-confusion", "08-attributed-words", "11-quality-by-length", "text-per-class"]:
    f = json.load(open(os.path.join(d, fig + ".json")))
    assert not f["rows"] and f["notes"] and "not evaluated" in f["notes"][0], (fig, f["notes"])
confusion = json.load(open(os.path.join(d, "07-text-confusion.json")))
assert "happiness" in confusion["notes"][0], confusion["notes"]
face = json.load(open(os.path.join(d, "12-face-confusion.json")))
assert len(face["rows"]) == 49, "the face model's figures are still drawn"
print("ok - a model whose labels do not match is a note on its figures: " + confusion["notes"][0][:140])
PY

# An empty class: no face labelled disgust. Its figures are drawn, each with a note naming the class.
mkdir -p noclass/faces/fer2013/test
for d in "$sample"/faces/fer2013/test/*; do [[ $(basename "$d") == disgust ]] || ln -s "$d" noclass/faces/fer2013/test/; done
ln -s "$sample/text" noclass/text
echo '{"data_split": "test", "ablation_steps": 0}' >noclass.json
"$bin" --threads 2 report --data noclass --models "$root/models" --out noclass-report --config noclass.json --vendor-dir "$root/node_modules" --no-images 2>noclass.log
python3 - "$artifacts/noclass-report" <<'PY'
import json, os, sys
d = os.path.join(sys.argv[1], "data")
fig = lambda i: json.load(open(os.path.join(d, i + ".json")))
assert "FER2013 test has no example labelled disgust" in fig("01-class-counts")["notes"], fig("01-class-counts")["notes"]
per_class = fig("face-per-class")
assert len(per_class["rows"]) == 7 and any("labelled disgust" in n for n in per_class["notes"]), per_class["notes"]
assert len(fig("12-face-confusion")["rows"]) == 49, "the face matrix is still drawn"
fused = fig("fused-reliability")
assert not fused["rows"] and "no face labelled disgust" in fused["notes"][0], fused["notes"]
print("ok - an empty class is a note naming it on the figures it touches: " + per_class["notes"][0])
PY
