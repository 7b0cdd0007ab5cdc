#!/usr/bin/python3
# Picks each trained run's epoch (history.csv: validation loss and copy measure of complete
# epochs), writes its model card and stores it with `etude export` as models/NAME.safetensors in
# bf16, the card's validation loss re-measured by etude on the stored weights. Usage:
#   scripts/export_models.py ETUDE_BIN CORPUS RUNS MODELS [NAME...] [--samples REPORT.json]
import csv, json, os, platform, re, subprocess, sys

FOLDER = {"chopin": "Chopin", "mozart": "Mozart", "beethoven": "Beethoven", "schubert": "Schubert", "all-composers": ""}
MAX_COPIED = 0.25  # a checkpoint whose samples copy more than this share of notes is not shipped
LICENSE = "CC BY-SA 3.0 DE (Creative Commons Attribution-ShareAlike 3.0 Germany)"
ATTRIBUTION = ("Trained on MIDI files sequenced by Bernd Krueger for the Classical Piano Midi Page (piano-midi.de), "
               "as arranged by folder in cheriell/ClassicalPianoMIDI-dataset; this model is derived from them and "
               "is shared under the same license with this attribution.")


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} (the 2-core development machine)"


def loads(log, name):
    """Load averages printed by train_models.sh when the run started and ended."""
    text = open(log).read() if os.path.exists(log) else ""
    start = re.search(rf"== {re.escape(name)}: .*load ([\d.]+) ([\d.]+) ([\d.]+)", text)
    end = re.search(rf"== {re.escape(name)} done .*load ([\d.]+) ([\d.]+) ([\d.]+)", text)
    return [float(m.group(1)) for m in (start, end) if m]


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


def main():
    args = [a for a in sys.argv[1:]]
    samples = {}
    if "--samples" in args:
        i = args.index("--samples")
        samples = json.load(open(args[i + 1]))
        del args[i:i + 2]
    etude, corpus, runs, models, *names = args
    names = names or list(FOLDER)
    commit = open(os.path.join(runs, "commit.txt")).read().strip() if os.path.exists(os.path.join(runs, "commit.txt")) else ""
    for name in names:
        run = os.path.join(runs, name)
        rows = list(csv.DictReader(open(os.path.join(run, "history.csv"))))
        summary = json.load(open(os.path.join(run, "summary.json")))
        best, complete, why = choose(rows)
        epoch = int(best["epoch"])
        cfg = summary["config"]
        folder = FOLDER[name]
        seconds = sum(float(r["seconds"]) for r in rows if int(r["epoch"]) <= epoch)
        load = loads(os.path.join(runs, "train-all.log" if name == "all-composers" else "train-composers.log"), name)
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
                         "load": f"shared with other build and test jobs: load average {load[0]:.1f} at the start"
                                 + (f", {load[1]:.1f} at the end" if len(load) > 1 else "") + " on 2 cores"
                                 if load else "shared with other jobs",
                         "threads": cfg.get("threads"), "seed": cfg.get("seed"), "commit": commit,
                         "tokens_per_second": round(float(best["tokens_per_second"]))},
            "reproduce": (f"etude train $ETUDE_CORPUS{sub} --out runs/{name} --preset {summary['model']['preset']} "
                          f"--threads {cfg.get('threads')} --checkpoint-every 1 --seed {cfg.get('seed')} --epochs {epoch} && "
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
