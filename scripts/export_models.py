#!/usr/bin/python3
# Picks each trained run's epoch (history.csv: validation loss and copy measure of complete
# epochs), writes its model card and stores it with `etude export` as models/NAME.safetensors in
# bf16, the card's validation loss re-measured by etude on the stored weights. Usage:
#   scripts/export_models.py ETUDE_BIN CORPUS RUNS MODELS [NAME[=RUN_FOLDER]...] [--samples REPORT.json]
#   scripts/export_models.py --add-samples ETUDE_BIN MODELS REPORT/summary.json  (after models_report.sh)
#   scripts/export_models.py --readme MODELS [REPORT_TABLE.md]   (models/README.md from the cards)
# The runs it picks and exports are those from scratch (all-composers); the base model piano is
# fine-tuned from all-composers and exported with a card written by hand (models/README.md), but
# --readme writes its section from its card too.
import csv, json, os, platform, re, struct, subprocess, sys

FOLDER = {"all-composers": ""}  # the runs from scratch this script picks and exports (train_models.sh)
BASE = "piano"  # the style-conditioned base model: fine-tuned from all-composers, its card written by hand
ANCESTOR = "all-composers"
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


def read_rows(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(json.loads(f.read(n))["__metadata__"].get("etude.styles", "[]"))


def judged_note(card):
    """The judge's figures below are of one piano file: say so when the shipped card is another."""
    if card["epoch"] == JUDGED["epoch"] and abs(card["validation"]["loss"] - JUDGED["loss"]) < 5e-4:
        return ""
    return (f"\n**Not re-judged yet:** these figures are of the earlier `piano` file (epoch {JUDGED['epoch']}, "
            f"validation loss {JUDGED['loss']:.4f}); the shipped card says epoch {card['epoch']}, "
            f"{card['validation']['loss']:.4f}. Re-run the commands above and update `JUDGED` and `README_JUDGE` "
            "in scripts/export_models.py.\n")


def base_section(models, name, c):
    v, t = c["validation"], c["training_record"]
    rows = read_rows(os.path.join(models, name + ".safetensors"))
    by_style = {s["style"]: s for s in v.get("styles", [])}
    kinds = ", ".join(f"{k} {x:.3f}" for k, x in v.get("loss_by_kind", {}).items())
    out = [f"## {name}", "",
           f"- **Styles** ({len(rows)} rows; `--style NAME`, any case, or a blend `NAME:0.7,NAME:0.3`): {', '.join(rows)}",
           f"- **Source**: {c['source']}; {t['train_pieces']} training and {t['validation_pieces']} validation pieces "
           "(the hash split of each style with at least two pieces)",
           f"- **License**: {c['license']}. {c['attribution']}",
           f"- **Network**: preset `{c['preset']}`: {c['model']}; {c['parameters']:,} parameters stored in {c['storage']}",
           f"- **How it was trained**: {c['how']}; {t['seconds'] / 60:.0f} min of training (the training record), "
           f"seed {t['seed']}, from `{t.get('from', 'scratch')}`",
           f"- **Epoch** {c['epoch']} shipped: {c['why']}",
           f"- **Validation loss** ({v['pieces']} held-out pieces of both corpora, {v['tokens']:,} tokens, re-measured by "
           f"`etude export` on the stored {c['storage']} weights): **{v['loss']:.4f}** nats/token (perplexity "
           f"{v['perplexity']:.2f}), accuracy {v['accuracy']:.3f}; in f32 during training: {t['val_loss']:.4f}. "
           f"By the kind of token predicted: {kinds}", "",
           "Validation by style (the loss of each style's held-out pieces, fed with that style's row):", "",
           "| style | loss (nats/token) | accuracy | held-out pieces |", "|---|---|---|---|"]
    for style in rows:
        s = by_style.get(style)
        if s is None:
            continue
        names = [p.split("/", 1)[-1] for p in s["pieces"]]
        shown = ", ".join(f"`{p}`" for p in names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        out.append(f"| {style} | {s['loss']:.4f} | {s['accuracy']:.3f} | {len(names)}: {shown} |")
    missing = [r for r in rows if r not in by_style]
    if missing:
        out += ["", f"{', '.join(missing)}: one piece each in the corpus, all of it trained on, so no held-out piece "
                "(the split holds out pieces of every style with at least two)."]
    out += ["", "The card lists every held-out piece (`etude styles --json`: `card.model_card.validation.styles`).", "",
            "- **Reproduce** (from the card; run from the project folder, the corpora in `../shared/corpora`):", "",
            "```", c["reproduce"], f"etude export runs/{name}/checkpoints/epoch-{c['epoch']:04d}.safetensors --out "
            f"models/{name}.safetensors --dtype bf16 --card CARD.json \\\n  --corpus ../shared/corpora/piano-midi "
            "../shared/corpora/pop909", "```", "",
            f"`CARD.json` is the card's written part (source, license, attribution, model, how, epoch, why, reproduce); "
            "`etude export` adds the storage, the training record and the validation it measures. Check the card: "
            f"`etude evaluate --model models/{name}.safetensors ../shared/corpora/piano-midi ../shared/corpora/pop909` "
            "prints the loss, each style's, and the difference from the card (both folders: the card was measured on "
            "both).", ""]
    return out


def write_readme(models, table):
    names = [n for n in [BASE, *FOLDER] if os.path.exists(os.path.join(models, n + ".safetensors"))]
    cards = {n: read_card(os.path.join(models, n + ".safetensors")) for n in names}
    out = [README_HEAD, "| model | trained on | styles | pieces (train + validation) | epoch shipped "
           "| validation loss (nats/token, stored weights) | accuracy | file | training time |",
           "|---|---|---|---|---|---|---|---|---|"]
    for n, c in cards.items():
        v, path = c["validation"], os.path.join(models, n + ".safetensors")
        if n == BASE:
            t = c["training_record"]
            out.append(f"| `{n}` | piano-midi and POP909, fine-tuned from `all-composers` | {len(read_rows(path))} rows "
                       f"| {t['train_pieces']} + {t['validation_pieces']} | {c['epoch']} | {v['loss']:.4f} "
                       f"| {v['accuracy']:.3f} | {mb(path):.1f} MB | {t['seconds'] / 60:.0f} min |")
        else:
            s = c["source"]
            out.append(f"| `{n}` | piano-midi, every folder as one (`{s['folder']}`) | none (unconditioned) "
                       f"| {s['train_pieces']} + {s['validation_pieces']} | {c['epoch']} of {c['epochs_trained']} "
                       f"| {v['loss']:.4f} | {v['accuracy']:.3f} | {mb(path):.1f} MB | {c['training']['seconds'] / 60:.0f} min |")
    if BASE in cards and ANCESTOR in cards:
        pop = {s["style"]: len(s["pieces"]) for s in cards[BASE]["validation"].get("styles", [])}.get("Pop", 0)
        out += ["", f"The two losses are not comparable: `{BASE}`'s validation pieces include {pop} POP909 songs "
                "(Pop's loss is the highest of its styles), and the composers' pieces are fed with their own style "
                "rows.", ""]
    if BASE in cards:
        out += [README_JUDGE + judged_note(cards[BASE])]
    out += [README_ORIGINALITY, open(table).read().strip() if table else "(run scripts/models_report.sh)", "",
            README_PICTURES]
    for n, c in cards.items():
        if n == BASE:
            out += base_section(models, n, c)
            continue
        v, s, t = c["validation"], c["source"], c["training"]
        hist = ", ".join(f"{h['epoch']}: {h['val_loss']:.3f}" for h in c["history"] if not h["partial"])
        sm = c.get("samples")
        out += [f"## {n}", "",
                "The unconditioned ancestor of `piano`: one network for every composer, with no style rows "
                "(`--style all-composers` composes it). `piano` was fine-tuned from it, and a run trained from scratch "
                "can be compared with it.", "",
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
    tail = README_TAIL
    if BASE in cards:
        path = os.path.join(models, BASE + ".safetensors")
        weights = cards[BASE]["parameters"] * (2 if cards[BASE]["storage"] in ("BF16", "F16") else 4) / 1e6
        tail = tail.replace("BASE_WEIGHTS_MB", f"{weights:.1f}").replace("BASE_FILE_MB", f"{mb(path):.1f}").replace(
            "BASE_TRAIN_PIECES", f"{cards[BASE]['training_record']['train_pieces']:,}")
    out.append(tail)
    open(os.path.join(models, "README.md"), "w").write("\n".join(out) + "\n")


README_HEAD = """# Models shipped with Etude

Two files, each complete: the network (bf16 weights), the tokenizer and its vocabulary, the n-gram
index of its training pieces (for the originality report) and its **model card** (metadata key
`etude.card`; `etude styles` lists them, `etude styles --json` prints the cards).

- **`piano.safetensors`, the base model**: one style-conditioned network whose style rows are the
  composers (and the Christmas folder) of the piano-midi corpus and Pop from POP909. A style is a
  row, not a file: `--style Chopin` (any case) composes the Chopin row, `--style chopin:0.7,pop:0.3`
  a blend of rows, and `etude train MY_FOLDER --from piano` fine-tunes your own style into a copy of
  it (README.md, "Styles").
- **`all-composers.safetensors`**: its unconditioned ancestor, every composer folder trained as
  one; `piano` was fine-tuned from it.

    etude styles                                            # what is installed, with each model's rows
    etude compose --style chopin --out piece.mid            # piano's Chopin row
    etude compose --style chopin:0.7,pop:0.3 --out piece.mid
    etude evaluate --model models/piano.safetensors ../shared/corpora/piano-midi ../shared/corpora/pop909

The piano-midi files were sequenced by Bernd Krueger (piano-midi.de) and are licensed CC BY-SA 3.0
DE; POP909 (Music X Lab, Wang et al., ISMIR 2020) is MIT-licensed. The models are derived works,
shared under CC BY-SA with that attribution.
"""
# The judge's figures of one piano file (its card's epoch and validation loss): write_readme says
# when the shipped card is another, so the table is never mistaken for the new model's.
JUDGED = {"epoch": 17, "loss": 1.8500}
README_JUDGE = """## Does it sound like the composer?

Judged with `etude judge` (README.md, "Judging the music"): 20 pieces per style at default settings
(500 tokens, temperature 1, top-p 0.95, seeds 1..20) against excerpts of that style's held-out
pieces; the figure is the mean overlap of eight tonal and rhythmic features as a share of the human
ceiling (1 = as close to the style as the composer's own other pieces; the goal is at least 0.9).

    etude compose --style Chopin --count 20 --seed 1 --out /tmp/j/chopin.mid
    etude judge /tmp/j/chopin-*.mid --against ../shared/corpora/piano-midi/Chopin

| style | `piano`'s row: mean overlap / ceiling | pitch-class entropy, scale share: pieces (held-out 10-90%) | the single-style model it replaced (removed) |
|---|---|---|---|
| Chopin | 0.76 / 0.75 = **1.01** | 3.10 (2.59-3.15), 0.882 (0.811-0.989) | 0.59 (`chopin`) |
| Mozart | 0.74 / 0.73 = **1.01** | 2.91 (2.80-3.13), 0.949 (0.868-0.978) | 0.44 (`mozart`) |
| Beethoven | 0.77 / 0.80 = **0.97** | 3.09 (2.61-3.13), 0.852 (0.843-1.000) | 0.62 (`beethoven`) |
| Schubert | 0.83 / 0.84 = **0.98** | 2.95 (2.52-3.25), 0.933 (0.833-1.000) | 0.73 (`schubert`) |
| Pop | 0.75 / 0.84 = 0.89: just below the goal | 2.82 (2.53-2.88), 0.965 (0.945-1.000) | (none) |

Default settings include `--style-strength 2` (README.md, "Styles"). Style is real: Chopin's
pieces overlap Chopin's held-out excerpts 0.76 and Mozart's 0.51; Mozart's pieces overlap
Mozart's 0.74 and Chopin's 0.69. `etude evaluate --model models/piano.safetensors
../shared/corpora/piano-midi ../shared/corpora/pop909 --diagnose` gives the model's diagnostics
(below the table of validation).

The pieces are the rows' 20 pieces of the originality table below; Pop is judged against
`../shared/corpora/pop909/Pop`. Against the same reference, the removed `chopin` model's pieces
scored 0.45 / 0.76.

**Removed: `chopin`, `mozart`, `beethoven` and `schubert`.** Until the base model, `models/` held
one small model per composer, each trained from scratch on that composer's folder alone (18 to 42
epochs of 21 to 48 pieces). The judge shows them much worse than the base model's rows: their
pieces are close to random in pitch (Chopin's: pitch-class entropy 3.53 bits against the held-out
pieces' 2.60-3.16, share of notes in the best-fitting scale 0.65 against 0.81-0.99), because one
folder is too little music and their epochs were chosen by the total validation loss, which is
blind to key. They are gone, so `--style chopin` and `make demo` find the base model's Chopin row
(a `NAME.safetensors` file would still be found first). Their cards, training
commands and originality are in this file's history (`git log -- models/README.md`).
"""
README_ORIGINALITY = """## Originality of composed pieces

Twenty pieces per style at default settings (500 tokens, temperature 1, top-p 0.95, seeds 1..20),
measured by `scripts/models_report.sh` from `etude compose --report`; `piano`'s rows one by one.
The longest copy is the longest run of notes whose consecutive 8-note pitch n-grams all come from
one training piece (an upper estimate); the longest repeat is the longest run of one token back
to back.
"""
README_PICTURES = """## Pictures

The first page of a piece composed by `make demo` (`--style chopin`: piano's Chopin row, seed 5):

![score](img/demo-score.png)

What a run folder's graphs look like: loss and accuracy per epoch on the training and validation
pieces, checkpoints marked, from the former single-style `chopin` model's run (trained from scratch
on the Chopin folder; the last point is epoch 31, cut short by the time limit; epoch 18 was
shipped). Its total validation loss hardly moves after epoch 14; in a later Chopin run with the
same settings (issue 14) the probability put on pitches of the piece's key kept climbing on such a
plateau (0.55 at epoch 10, 0.82 at 35) while duration, velocity and time tokens over-fitted: why
epochs are now chosen by the pitch loss and the judge too.

![loss](img/chopin-loss.png) ![accuracy](img/chopin-accuracy.png)
"""
README_TAIL = """## How these were made

    scripts/train_models.sh build/etude $ETUDE_CORPUS out/model-runs all-composers   # from scratch
    scripts/export_models.py build/etude $ETUDE_CORPUS out/model-runs models all-composers
    scripts/train_models.sh build/etude $ETUDE_CORPUS out/model-runs piano   # fine-tuned, both corpora
    etude export out/model-runs/piano/checkpoints/epoch-NNNN.safetensors --out models/piano.safetensors \\
      --dtype bf16 --card CARD.json --corpus $ETUDE_CORPUS $ETUDE_CORPUS/../pop909
    scripts/models_report.sh build/etude models out/models-report > out/models-report/table.md
    scripts/export_models.py --add-samples build/etude models out/models-report/summary.json
    scripts/export_models.py --readme models out/models-report/table.md

`all-composers`' epoch was chosen from `history.csv`: the lowest validation loss among complete
epochs (an epoch cut short by the time limit is never shipped), unless the checkpoint samples of
that epoch copy more than 25% of their notes from the training pieces. `piano`'s card says why its
epoch was chosen (`why`) and how it was trained (`how`); its written part was not generated by
`export_models.py`. `--add-samples` writes the originality of 20 pieces into `all-composers`' card
(piano's rows are reported in the table only). Training is deterministic for a given thread count:
`all-composers`' first epochs repeated the losses of an earlier 1-thread run digit for digit.

## What is weak

- Short training. `piano` had a few epochs of fine-tuning on 2 cores (its card: `how`, `why`);
  its validation loss and pitch loss were still falling. `all-composers` had 24 epochs in 42 minutes,
  its validation loss flattening (1.590 at epoch 20, 1.591 at 24).
- File size. `piano`'s weights are BASE_WEIGHTS_MB MB in bf16, but the n-gram index of its
  BASE_TRAIN_PIECES training pieces (about 9 bytes per 8-note gram, for the originality report)
  makes the file BASE_FILE_MB MB, over the 11 MB aimed at; all-composers' index is 4.9 of its 7.3 MB.
- Few held-out pieces per composer: one to five for most (Pop: 87), so per-style losses are noisy,
  and the single-piece composers (Balakirev, Moszkowski, Sinding) have none.
- In the judge's figures above, Schubert's row reaches 0.87 of its ceiling, below the 0.9 aimed at,
  and Pop's pieces are just below the human range in scale share.
- The `small` preset (256 units) was chosen for size and for 2-core training time; `default` (512
  units) learns more per epoch but needs about three times the compute.
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
            if "/" in name or name == BASE:  # piano's rows ("piano/Chopin"): the table only; its card is as written
                continue
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
