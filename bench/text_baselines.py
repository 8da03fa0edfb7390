#!/usr/bin/python3
"""The cross-domain yardstick for the text model (issue 15): emopost beside a TF-IDF + logistic
regression baseline trained on the same data and labels, on

  * each source's test split, in domain (trained on CARER + GoEmotions, as models/text);
  * leave one source out: trained on CARER alone and tested on GoEmotions' test split, and the
    other way round, over the labels both sources have (anger, fear, joy, sadness, surprise; the
    argmax is taken over those labels only, for both models);
  * the perturbation suite in tests/data/perturbations (suite.jsonl): how often the label stays the
    same when the meaning does, and the accuracy on hand-labelled 1-3 word captions.

Every choice of the baseline (C, class weights) is made on the training source's validation split.
emopost's numbers come from `emopost eval text --predictions` (its own reading and metrics); this
script only compares. Run under Debian's python (python3-sklearn):

  /usr/bin/python3 bench/text_baselines.py --emopost build/release/emopost \\
      --model all=models/text --model carer=runs/text-carer/best --model goemotions=runs/text-goemotions/best

`--write-suite` (re)writes suite.jsonl from the validation splits and captions.jsonl, deterministically.
"""
import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
SHARED = ["anger", "fear", "joy", "sadness", "surprise"]  # the labels CARER has (love is joy)
ROOT = Path(__file__).resolve().parent.parent
SUITE_DIR = ROOT / "tests/data/perturbations"


# ------------------------------------------------------------------ data, as src/emopost/data reads it

def read_carer(path):
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line:
            continue
        text, label = line.rsplit(";", 1)
        rows.append((text, "joy" if label == "love" else label, "carer"))
    return rows


def read_goemotions(path):
    folder = path.parent
    names = folder.joinpath("emotions.txt").read_text().split()
    to_class = {"neutral": "neutral"}
    for cls, fine in json.loads(folder.joinpath("ekman_mapping.json").read_text()).items():
        for f in fine:
            to_class[f] = cls
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line:
            continue
        text, ids, _ = line.split("\t")
        classes = {to_class[names[int(i)]] for i in ids.split(",")}
        if len(classes) == 1:  # multi-class rows are dropped, as the C++ reader does
            rows.append((text, classes.pop(), "goemotions"))
    return rows


def read_recipe(data, recipe, split):
    text = Path(data) / "text"
    rows = []
    if recipe in ("all", "carer"):
        rows += read_carer(text / "carer" / f"{split}.txt")
    if recipe in ("all", "goemotions"):
        rows += read_goemotions(text / "goemotions" / f"{'dev' if split == 'val' else split}.tsv")
    return rows


# ------------------------------------------------------------------ the perturbation suite

EMOJI = {"joy": "😂", "sadness": "😢", "anger": "😡", "fear": "😱", "surprise": "😮", "disgust": "🤢"}
EMOTICON = {"joy": ":)", "sadness": ":(", "anger": ">:(", "fear": "D:", "surprise": ":O"}
HASHTAGS = ["#life", "#weekend", "#nofilter", "#tbt", "#mood"]
MENTIONS = ["@jess_m", "@dave", "@the_real_sam"]
NEGATIONS = [(r"\bi feel\b", "i don't feel"), (r"\bi am\b", "i am not"), (r"\bi'm\b", "i'm not"),
             (r"\bis\b", "is not"), (r"\bwas\b", "was not"), (r"\bare\b", "are not")]


def variants(text, label, rng):
    """(kind, text, preserves_meaning) for one base text."""
    words = text.split()
    out = [("caps", text.upper(), True), ("sentence_case", text[:1].upper() + text[1:], True)]
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    w = words[longest]
    if re.search(r"[a-z]$", w):
        out.append(("elongation", " ".join(words[:longest] + [w + w[-1] * 3] + words[longest + 1:]), True))
    if label in EMOJI:
        out.append(("emoji", f"{text} {EMOJI[label]}", True))
    if label in EMOTICON:
        out.append(("emoticon", f"{text} {EMOTICON[label]}", True))
    out.append(("hashtag", f"{text} {rng.choice(HASHTAGS)}", True))
    out.append(("link", f"{text} https://t.co/{''.join(rng.choice('abcdefXYZ0123') for _ in range(10))}", True))
    out.append(("mention", f"{rng.choice(MENTIONS)} {text}", True))
    long_words = [i for i, x in enumerate(words) if len(x) >= 5 and x.isalpha()]
    if long_words:
        i = rng.choice(long_words)
        j = rng.randrange(1, len(words[i]) - 2)
        x = words[i]
        out.append(("typo", " ".join(words[:i] + [x[:j] + x[j + 1] + x[j] + x[j + 2:]] + words[i + 1:]), True))
    reps = 1 + 160 // max(1, len(words))  # over 128 WordPiece tokens: read in windows
    out.append(("long", " ".join([text] * reps), True))
    for pattern, neg in NEGATIONS:
        if re.search(pattern, text):
            out.append(("negation", re.sub(pattern, neg, text, count=1), False))
            break
    return out


def write_suite(data, per_source=80, seed=15):
    rng = random.Random(seed)
    rows = []
    for recipe in ("carer", "goemotions"):
        pool = [r for r in read_recipe(data, recipe, "val") if 4 <= len(r[0].split()) <= 40]
        by_label = {}
        for r in pool:
            by_label.setdefault(r[1], []).append(r)
        picked = []
        while len(picked) < per_source:  # round-robin over labels, so rare ones are in
            for lab in sorted(by_label):
                if by_label[lab] and len(picked) < per_source:
                    picked.append(by_label[lab].pop(rng.randrange(len(by_label[lab]))))
        for n, (text, label, source) in enumerate(picked):
            base = f"{source}-{n}"
            rows.append({"id": base, "kind": "base", "base": base, "text": text, "label": label, "preserves": True})
            for kind, t, keep in variants(text, label, rng):
                rows.append({"id": f"{base}-{kind}", "kind": kind, "base": base, "text": t, "label": label,
                             "preserves": keep})
    for n, line in enumerate((SUITE_DIR / "captions.jsonl").read_text(encoding="utf-8").splitlines()):
        c = json.loads(line)
        rows.append({"id": f"caption-{n}", "kind": "caption", "base": None, "text": c["text"], "label": c["label"],
                     "preserves": True})
    with open(SUITE_DIR / "suite.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {SUITE_DIR / 'suite.jsonl'}", file=sys.stderr)


def suite_scores(rows, predicted):
    """Label kept per meaning-preserving kind (against the base text's prediction), negation flips,
    and caption accuracy."""
    by_id = {r["id"]: p for r, p in zip(rows, predicted)}
    kinds = {}
    for r, p in zip(rows, predicted):
        if r["kind"] in ("base", "caption"):
            continue
        k = kinds.setdefault(r["kind"], [0, 0])
        k[0] += p == by_id[r["base"]]
        k[1] += 1
    kept = {k: v[0] / v[1] for k, v in kinds.items()}
    preserving = [v for k, v in kinds.items() if k != "negation"]
    caps = [(r["label"], p) for r, p in zip(rows, predicted) if r["kind"] == "caption"]
    return {"kept_by_kind": kept,
            "kept_overall": sum(v[0] for v in preserving) / sum(v[1] for v in preserving),
            "meaning_preserving_pairs": sum(v[1] for v in preserving),
            "caption_accuracy": sum(a == b for a, b in caps) / len(caps), "captions": len(caps)}


# ------------------------------------------------------------------ the two models

def fit_tfidf(train, val):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x = vec.fit_transform([t for t, _, _ in train])
    xv = vec.transform([t for t, _, _ in val])
    y, yv = [l for _, l, _ in train], [l for _, l, _ in val]
    best = None
    for weights in (None, "balanced"):
        for c in (1.0, 4.0, 16.0):
            m = LogisticRegression(C=c, class_weight=weights, max_iter=2000).fit(x, y)
            f1 = f1_score(yv, m.predict(xv), average="macro")
            print(f"  tfidf C={c} class_weight={weights}: val macro-F1 {f1:.4f}", file=sys.stderr)
            if best is None or f1 > best[0]:
                best = (f1, c, weights, m)
    f1, c, weights, m = best
    return {"C": c, "class_weight": weights, "val_macro_f1": f1}, \
        lambda texts: [dict(zip(m.classes_, p)) for p in m.predict_proba(vec.transform(texts))]


def emopost_probs(binary, model, jsonl_rows=None, recipe=None, data=None, split="test"):
    """Per-example probabilities from `emopost eval text --predictions`, in input order."""
    with tempfile.TemporaryDirectory() as tmp:
        pred = Path(tmp) / "pred.jsonl"
        cmd = [binary, "eval", "text", "--model", model, "--predictions", str(pred), "--json"]
        if jsonl_rows is not None:
            src = Path(tmp) / "texts.jsonl"
            src.write_text("".join(json.dumps({"text": r["text"], "label": r["label"]}, ensure_ascii=False) + "\n"
                                   for r in jsonl_rows), encoding="utf-8")
            cmd += ["--format", "jsonl", "--data", str(src)]
        else:
            cmd += ["--recipe", recipe, "--data", data, "--split", split]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        out = [json.loads(l) for l in pred.read_text().splitlines()]
    return [dict(zip(LABELS, r["probabilities"])) for r in out]


def scores(truth, probs, labels=None):
    from sklearn.metrics import accuracy_score, f1_score
    keep = labels or LABELS
    pred = [max(keep, key=p.__getitem__) for p in probs]
    return {"accuracy": accuracy_score(truth, pred),
            "macro_f1": f1_score(truth, pred, average="macro", labels=labels, zero_division=0),
            "n": len(truth)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data"))
    ap.add_argument("--emopost", default=str(ROOT / "build/release/emopost"))
    ap.add_argument("--model", action="append", default=[],
                    help="RECIPE=DIR: the emopost model trained on that recipe (all, carer, goemotions)")
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    ap.add_argument("--write-suite", action="store_true")
    ap.add_argument("--suite-only", metavar="DIR", help="score only this emopost model on the perturbation suite "
                    "(built from validation texts, so fit for choosing between runs) and print it as JSON")
    a = ap.parse_args()
    if a.write_suite:
        write_suite(a.data)
        return
    if a.suite_only:
        rows = [json.loads(l) for l in (SUITE_DIR / "suite.jsonl").read_text(encoding="utf-8").splitlines()]
        probs = emopost_probs(a.emopost, a.suite_only, rows)
        print(json.dumps(suite_scores(rows, [max(LABELS, key=p.__getitem__) for p in probs]), indent=2))
        return
    models = dict(m.split("=", 1) for m in a.model)
    result = {"in_domain": {}, "leave_one_out": {}, "perturbations": {}}
    t0 = time.time()

    print("in domain: trained on carer + goemotions", file=sys.stderr)
    choice, tfidf = fit_tfidf(read_recipe(a.data, "all", "train"), read_recipe(a.data, "all", "val"))
    result["tfidf_choice_all"] = choice
    for source in ("carer", "goemotions"):
        test = read_recipe(a.data, source, "test")
        truth = [l for _, l, _ in test]
        row = {"tfidf": scores(truth, tfidf([t for t, _, _ in test]))}
        if "all" in models:
            row["emopost"] = scores(truth, emopost_probs(a.emopost, models["all"], recipe=source, data=a.data))
        result["in_domain"][source] = row

    rows = [json.loads(l) for l in (SUITE_DIR / "suite.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [r["text"] for r in rows]
    pick = lambda probs: [max(LABELS, key=p.__getitem__) for p in probs]  # noqa: E731
    result["perturbations"]["tfidf"] = suite_scores(rows, pick(tfidf(texts)))
    if "all" in models:
        result["perturbations"]["emopost"] = suite_scores(rows, pick(emopost_probs(a.emopost, models["all"], rows)))

    for train_on, test_on in (("carer", "goemotions"), ("goemotions", "carer")):
        print(f"leave one source out: {train_on} -> {test_on}", file=sys.stderr)
        choice, tfidf = fit_tfidf(read_recipe(a.data, train_on, "train"), read_recipe(a.data, train_on, "val"))
        result[f"tfidf_choice_{train_on}"] = choice
        test = read_recipe(a.data, test_on, "test")
        keep = [i for i, r in enumerate(test) if r[1] in SHARED]
        truth = [test[i][1] for i in keep]
        probs = tfidf([test[i][0] for i in keep])
        row = {"tfidf": scores(truth, probs, SHARED)}
        if train_on in models:
            all_probs = emopost_probs(a.emopost, models[train_on], recipe=test_on, data=a.data)
            row["emopost"] = scores(truth, [all_probs[i] for i in keep], SHARED)
        result["leave_one_out"][f"{train_on}->{test_on}"] = row
    result["seconds"] = round(time.time() - t0)

    print("| yardstick | n | TF-IDF + LR | emopost |\n|---|---:|---:|---:|")
    fmt = lambda r, k: f"{r[k]:.4f}" if r else "—"  # noqa: E731
    for source, row in result["in_domain"].items():
        for k in ("accuracy", "macro_f1"):
            print(f"| {source} test, in domain, {k} | {row['tfidf']['n']} | {fmt(row['tfidf'], k)} | "
                  f"{fmt(row.get('emopost'), k)} |")
    for name, row in result["leave_one_out"].items():
        print(f"| {name}, 5 shared labels, macro_f1 | {row['tfidf']['n']} | {fmt(row['tfidf'], 'macro_f1')} | "
              f"{fmt(row.get('emopost'), 'macro_f1')} |")
    p = result["perturbations"]
    print(f"| perturbations: label kept, meaning-preserving | {p['tfidf']['meaning_preserving_pairs']} | "
          f"{fmt(p['tfidf'], 'kept_overall')} | {fmt(p.get('emopost'), 'kept_overall')} |")
    for kind in sorted(p["tfidf"]["kept_by_kind"]):
        e = p.get("emopost", {}).get("kept_by_kind", {}).get(kind)
        print(f"| … {kind} | | {p['tfidf']['kept_by_kind'][kind]:.4f} | {'—' if e is None else f'{e:.4f}'} |")
    print(f"| 1–3 word captions, accuracy | {p['tfidf']['captions']} | {fmt(p['tfidf'], 'caption_accuracy')} | "
          f"{fmt(p.get('emopost'), 'caption_accuracy')} |")
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
