#!/usr/bin/python3
# Picks each trained run's epoch (history.csv: validation loss and copy measure of complete
# epochs), writes its model card and stores it with `etude export` as models/NAME.safetensors in
# bf16, the card's validation loss re-measured by etude on the stored weights. Usage:
#   scripts/export_models.py ETUDE_BIN CORPUS RUNS MODELS [NAME[=RUN_FOLDER]...] [--samples REPORT.json]
#   scripts/export_models.py --add-samples ETUDE_BIN MODELS REPORT/summary.json  (after models_report.sh)
#   scripts/export_models.py --readme MODELS [REPORT_TABLE.md]   (models/README.md from the cards)
import csv, json, os, platform, re, struct, subprocess, sys

FOLDER = {"chopin": "Chopin", "mozart": "Mozart", "beethoven": "Beethoven", "schubert": "Schubert", "all-composers": ""}
MAX_COPIED = 0.25  # a checkpoint whose samples copy more than this share of notes is not shipped
LICENSE = "CC BY-SA 3.0 DE (Creative Commons Attribution-ShareAlike 3.0 Germany)"
ATTRIBUTION = ("Trained on MIDI files sequenced by Bernd Krueger for the Classical Piano Midi Page (piano-midi.de), "
               "as arranged by folder in cheriell/ClassicalPianoMIDI-dataset; this model is derived from them and "
               "is shared under the same license with this attribution.")


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} (the 2-core development machine)"


def from_log(runs, run):
    """Load averages printed when the run started and ended (train_models.sh logs), and --threads."""
    text = "".join(open(os.path.join(runs, f)).read() for f in sorted(os.listdir(runs)) if f.endswith(".log"))
    start = re.search(rf"^== {re.escape(run)}: (.*)load ([\d.]+) ([\d.]+) ([\d.]+)", text, re.M)
    end = re.search(rf"^== {re.escape(run)} done .*load ([\d.]+) ([\d.]+) ([\d.]+)", text, re.M)
    load = ([float(start.group(2))] if start else []) + ([float(end.group(1))] if end else [])
    threads = re.search(r"--threads (\d+)", start.group(1)) if start else None
    return load, int(threads.group(1)) if threads else 1


def choose(rows):
    complete = [r for r in rows if "partial" not in r["events"]]
    if not complete:
        raise SystemExit("no complete epoch")
    ok = [r for r in complete if r["copied_share"] == "" or float(r["copied_share"]) <= MAX_COPIED]
    pool = ok or complete
    best = min(pool, key=lambda r: float(r["val_loss"]))
    low = min(complete, key=lambda r: float(r["val_loss"]))
    if best is low:
        why = (f"lowest validation loss of the {len(complete)} complete epochs"
               + (" (the last one: validation loss was still falling when the time budget ended)"
                  if best is complete[-1] else "")
               + f"; its samples copy {float(best['copied_share'] or 0) * 100:.1f}% of their notes in 8-note runs"
               + f" (limit {MAX_COPIED * 100:.0f}%)")
    else:
        why = (f"epoch {low['epoch']} had a lower validation loss but its samples copied "
               f"{float(low['copied_share']) * 100:.1f}% of their notes; this is the lowest validation loss "
               f"with at most {MAX_COPIED * 100:.0f}% copied")
    return best, complete, why


def read_card(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(json.loads(f.read(n))["__metadata__"]["etude.card"])


def note_of(runs, name, default):
    """A sentence about the runs of RUNS (RUNS/NAME), or the default of the first runs."""
    path = os.path.join(runs, name)
    return open(path).read().strip() if os.path.exists(path) else default


def mb(path):
    return os.path.getsize(path) / 1e6


def write_readme(models, table):
    names = [n for n in FOLDER if os.path.exists(os.path.join(models, n + ".safetensors"))]
    cards = {n: read_card(os.path.join(models, n + ".safetensors")) for n in names}
    out = [README_HEAD, "| model | trained on | pieces (train + validation) | epoch chosen / trained | validation loss "
           "(nats/token, stored weights) | accuracy | file | training time |", "|---|---|---|---|---|---|---|---|"]
    for n, c in cards.items():
        v, s = c["validation"], c["source"]
        out.append(f"| `{n}` | `{s['folder']}` ({len(s['styles'])} style{'s' if len(s['styles']) > 1 else ''}) "
                   f"| {s['train_pieces']} + {s['validation_pieces']} | {c['epoch']} / {c['epochs_trained']} "
                   f"| {v['loss']:.4f} | {v['accuracy']:.3f} | {mb(os.path.join(models, n + '.safetensors')):.1f} MB "
                   f"| {c['training']['seconds'] / 60:.0f} min |")
    out += ["", README_ORIGINALITY, open(table).read().strip() if table else "(run scripts/models_report.sh)", "",
            README_PICTURES]
    for n, c in cards.items():
        v, s, t = c["validation"], c["source"], c["training"]
        hist = ", ".join(f"{h['epoch']}: {h['val_loss']:.3f}" for h in c["history"] if not h["partial"])
        sm = c.get("samples")
        out += [f"## {n}", "",
                f"- **Source**: folder `{s['folder']}` of the shared piano-midi corpus ({s['files_used']} files; "
                f"{s['train_pieces']} training and {s['validation_pieces']} validation pieces by the hash split); "
                f"style{'s' if len(s['styles']) > 1 else ''}: {', '.join(s['styles'])}",
                f"- **License**: {c['license']}. {c['attribution']}",
                f"- **Tokenizer**: `{c['tokenizer']}` ({c['vocab']} tokens); **preset** `{c['preset']}`: {c['model']}; "
                f"{c['parameters']:,} parameters stored in {c['storage']}",
                f"- **Epochs**: {c['epochs_trained']} complete epochs trained; epoch **{c['epoch']}** shipped: {c['why']}",
                f"- **Validation loss** (hash split, {v['pieces']} pieces, {v['tokens']:,} tokens, re-measured by "
                f"`etude export` on the stored {c['storage']} weights): **{v['loss']:.4f}** nats/token (perplexity "
                f"{v['perplexity']:.2f}), accuracy {v['accuracy']:.3f}; in f32 during training: {c['training_val_loss']:.4f}",
                f"- **Validation loss by epoch**: {hist}",
                f"- **Copy measure** at the checkpoint: {c['copy_measure']['copied_share'] * 100:.1f}% of the notes of "
                f"4 samples in 8-note runs found in the training pieces"
                + (f"; over {sm['pieces']} composed pieces (seeds {sm['seeds']}, {sm['settings']}): longest verbatim "
                   f"copy median {sm['longest_copy']['median']:g} notes, max {sm['longest_copy']['max']}; longest "
                   f"repeated token mean {sm['longest_repeat']['mean']:.1f}, max {sm['longest_repeat']['max']}; "
                   f"{sm['repairs']} repairs" if sm else ""),
                f"- **Training**: {t['seconds'] / 60:.1f} min to the shipped epoch on {t['machine']}, {t['threads']} "
                f"thread(s), {t['load']}; about {t['tokens_per_second']:,} tokens/s; seed {t['seed']}; commit "
                f"`{t['commit'][:10]}`",
                "- **Reproduce** (`$ETUDE_CORPUS` is the corpus folder; the run is deterministic for a given thread "
                "count):", "", "```", c["reproduce"].replace(" && ", " &&\n  "), "```", "",
                f"Check the card: `etude evaluate --model models/{n}.safetensors $ETUDE_CORPUS"
                + (f"/{s['folder']}" if s['folder'] != '.' else '') + "` prints the loss and its difference from the card.", ""]
    out.append(README_TAIL)
    open(os.path.join(models, "README.md"), "w").write("\n".join(out) + "\n")


README_HEAD = """# Style models shipped with Etude

Each file is a complete style: the network (bf16 weights), the tokenizer and its vocabulary, the
n-gram index of its training pieces (for the originality report) and its **model card** (metadata
key `etude.card`; `etude styles` lists them, `etude styles --json` prints the cards).

    etude styles                                   # what is installed
    etude compose --style chopin --out piece.mid   # compose in a style
    etude evaluate --model models/chopin.safetensors $ETUDE_CORPUS/Chopin   # re-measure a card

All were trained by `etude train` on folders of the shared piano-midi corpus, whose files were
sequenced by Bernd Krueger (piano-midi.de) and are licensed CC BY-SA 3.0 DE: the models are
derived works under the same license and keep that attribution.
"""
README_ORIGINALITY = """## Originality of composed pieces

Twenty pieces per style at default settings (500 tokens, temperature 1, top-p 0.95, seeds 1..20),
measured by `scripts/models_report.sh` from `etude compose --report`. The longest copy is the
longest run of notes whose consecutive 8-note pitch n-grams all come from one training piece (an
upper estimate); the longest repeat is the longest run of one token back to back.
"""
README_PICTURES = """## Pictures

Training graphs of the `chopin` run (loss and accuracy per epoch on the training and validation
pieces; the last point is epoch 31, cut short by the time limit; epoch 18 is shipped), and the first
page of a piece composed by `make demo` (seed 5) with the shipped `chopin` model:

![loss](img/chopin-loss.png) ![accuracy](img/chopin-accuracy.png)

![score](img/demo-score.png)
"""
README_TAIL = """## How these were made

    scripts/train_models.sh build/etude $ETUDE_CORPUS out/model-runs   # one run folder per style
    scripts/export_models.py build/etude $ETUDE_CORPUS out/model-runs models
    scripts/models_report.sh build/etude models out/models-report > out/models-report/table.md
    scripts/export_models.py --add-samples build/etude models out/models-report/summary.json
    scripts/export_models.py --readme models out/models-report/table.md

The epoch of each model is chosen from `history.csv`: the lowest validation loss among complete
epochs (an epoch cut short by the time limit is never shipped), unless the checkpoint samples of
that epoch copy more than 25% of their notes from the training pieces, in which case the best
epoch under that limit. Most runs had a time budget on a 2-core machine (all-composers' ended
while its validation loss was still falling a little); longer training can give better models
(`etude train ... --resume --max-minutes M` continues a run). `CARD.json` in the reproduce
commands is the card's written part (source, license, epoch and why, ...), which
`scripts/export_models.py` writes from the run folder into `RUNS/cards/NAME.json`; `etude export`
adds the storage, the training record and the validation it measures.

Training is deterministic for a given thread count (and here 1 and 2 threads agreed too): three runs of Schubert (time limits of 14
and 21 minutes, and `--epochs 8`) gave the same validation losses digit for digit in every
epoch they all completed (3.80764, 2.69564, 2.40773, 2.25243), and two runs of Beethoven likewise.
The shipped chopin, mozart and schubert models come from second, longer runs
(`out/model-runs/NAME-2`), made when the machine had become less busy; beethoven and
all-composers from later runs alone on the machine with 2 threads (`out/model-runs-2/NAME`), whose
first epochs repeated the losses of the earlier 1-thread runs digit for digit (beethoven's epoch 20:
1.86155 in both; all-composers' epochs 1 to 4).

## What is weak

- Short training. On the shared 2-core machine (load average 2 to 10 from other jobs) each
  composer run had 14 or 21 minutes (18 to 37 epochs). Chopin, Mozart and Schubert reached their
  lowest validation loss before the end (epochs 18 of 30, 32 of 37, 16 of 18). Beethoven and
  all-composers were retrained alone on the machine: Beethoven until early stopping (best epoch 27
  of 42, 1.799 against the 1.862 of the 20 epochs it first had), all-composers for 24 complete
  epochs of 2.5 million tokens in 42 minutes, its validation loss flattening (1.590 at epoch 20,
  1.591 at 24, against 1.779 for the 4 epochs it first had).
- The `small` preset (256 units) was chosen for size (2.4 MB of weights in bf16); `default` (512
  units) learns more per epoch but needs about three times the compute.
- Mozart's validation split is two pieces and Chopin's five: their losses are noisy estimates.
- The composer models' pieces copy not one 8-note run from their training pieces, which also
  says they have not yet learned much of the pieces' detail; the longer-trained all-composers
  model copies a little (0.5% of its 8-note runs, at most 13 notes in a row), far below the 25%
  limit: compare the copy measure again after longer training.
- The n-gram index (about 9 bytes per 8-note gram) dominates the all-composers file (4.9 of its
  7.3 MB).
"""


def main():
    args = [a for a in sys.argv[1:]]
    if args and args[0] == "--readme":
        write_readme(args[1], args[2] if len(args) > 2 else None)
        return
    if args and args[0] == "--add-samples":  # ETUDE_BIN MODELS REPORT.json: cards gain the report, weights unchanged
        etude, models, report = args[1:4]
        for name, summary in json.load(open(report)).items():
            path = os.path.join(models, name + ".safetensors")
            card = read_card(path)
            card["samples"] = summary
            tmp = path + ".card.json"
            json.dump(card, open(tmp, "w"), indent=2)
            subprocess.run([etude, "export", path, "--out", path, "--dtype", card["storage"].lower(), "--card", tmp],
                           check=True, stdout=subprocess.DEVNULL)
            os.remove(tmp)
            print(f"{name}: card has the samples of {summary['pieces']} pieces")
        return
    samples = {}
    if "--samples" in args:
        i = args.index("--samples")
        samples = json.load(open(args[i + 1]))
        del args[i:i + 2]
    etude, corpus, runs, models, *names = args
    names = names or list(FOLDER)
    commit = open(os.path.join(runs, "commit.txt")).read().strip() if os.path.exists(os.path.join(runs, "commit.txt")) else ""
    for spec in names:
        name, _, run_name = spec.partition("=")  # NAME or NAME=RUN_FOLDER
        run = os.path.join(runs, run_name or name)
        rows = list(csv.DictReader(open(os.path.join(run, "history.csv"))))
        summary = json.load(open(os.path.join(run, "summary.json")))
        best, complete, why = choose(rows)
        epoch = int(best["epoch"])
        cfg = summary["config"]
        folder = FOLDER[name]
        seconds = sum(float(r["seconds"]) for r in rows if int(r["epoch"]) <= epoch)
        load, threads = from_log(runs, run_name or name)
        sub = f"/{folder}" if folder else ""
        card = {
            "name": name,
            "source": {"corpus": "piano-midi (the shared corpus, $ETUDE_CORPUS)", "folder": folder or ".",
                       "styles": summary["corpus"]["styles"], "files_used": summary["corpus"]["files_used"],
                       "train_pieces": summary["corpus"]["train"]["pieces"],
                       "validation_pieces": summary["corpus"]["validation"]["pieces"]},
            "license": LICENSE, "attribution": ATTRIBUTION,
            "tokenizer": summary["corpus"]["tokenizer"], "vocab": summary["corpus"]["vocab"],
            "preset": summary["model"]["preset"],
            "model": "token embedding 256, 2 x LSTM 256, dropout 0.2, dense to the vocabulary (seq2seq, window 128)"
                     if summary["model"]["preset"] == "small" else summary["model"]["spec"],
            "epochs_trained": len(complete), "epoch": epoch, "why": why,
            "training_val_loss": float(best["val_loss"]),
            "copy_measure": {"copied_share": float(best["copied_share"]) if best["copied_share"] else None,
                             "what": "share of the notes of 4 samples (600 tokens, temperature 1, top-p 0.95) that lie in "
                                     "8-note pitch runs found verbatim in the training pieces, measured at the checkpoint"},
            "history": [{"epoch": int(r["epoch"]), "val_loss": round(float(r["val_loss"]), 4),
                         "copied_share": round(float(r["copied_share"]), 4) if r["copied_share"] else None,
                         "partial": "partial" in r["events"]} for r in rows],
            "training": {"seconds": round(seconds), "machine": machine(),
                         "load": f"{note_of(runs, 'load.txt', 'shared with other build and test jobs')}: load average "
                                 f"{load[0]:.1f} at the start" + (f", {load[1]:.1f} at the end" if len(load) > 1 else "")
                                 + " on 2 cores" if load else "shared with other jobs",
                         "threads": threads, "seed": cfg.get("seed"), "commit": commit,
                         "binary": note_of(runs, "binary.txt", "etude built from the working tree at that commit (other "
                                           "helpers' edits in progress included); `etude evaluate` of today's build "
                                           "reproduces the recorded losses"),
                         "tokens_per_second": round(float(best["tokens_per_second"]))},
            "reproduce": (f"etude train $ETUDE_CORPUS{sub} --out runs/{name} --preset {summary['model']['preset']} "
                          f"--threads {threads} --checkpoint-every 1 --seed {cfg.get('seed')} --epochs {epoch} && "
                          f"etude export runs/{name}/checkpoints/epoch-{epoch:04d}.safetensors --out models/{name}.safetensors "
                          f"--dtype bf16 --card CARD.json --corpus $ETUDE_CORPUS{sub}"),
        }
        if name in samples:
            card["samples"] = samples[name]
        os.makedirs(os.path.join(runs, "cards"), exist_ok=True)
        card_path = os.path.join(runs, "cards", name + ".json")
        json.dump(card, open(card_path, "w"), indent=2)
        src = os.path.join(run, "checkpoints", f"epoch-{epoch:04d}.safetensors")
        out = os.path.join(models, name + ".safetensors")
        print(f"== {name}: epoch {epoch} of {len(complete)} ({why})", flush=True)
        subprocess.run([etude, "export", src, "--out", out, "--dtype", "bf16", "--card", card_path,
                        "--corpus", os.path.join(corpus, folder) if folder else corpus,
                        "--val-fraction", str(cfg.get("val_fraction", 0.1))], check=True)


if __name__ == "__main__":
    main()
