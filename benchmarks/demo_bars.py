"""The demo's bars from a finished `make demo` run: reads <run>/report.json and writes
benchmarks/results/demo_<precision>.json (fp32 or bf16: the demo's defaults differ by precision).

    time make build                                        # in a fresh clone: the set-up's seconds
    make demo                                              # runs/demo/report.json
    python -m ulmlite.demo --seed 1 --out runs/demo-s1      # more seeds, for a mean
    python benchmarks/demo_bars.py runs/demo runs/demo-s1 --setup-seconds 200

Bars, for runs with the demo's default settings (any --seed, --data, --out) and both directions:
- `demo_margin_over_tfidf` >= 0.02: the forward + backward ensemble's test accuracy minus that of
  TF-IDF + logistic regression trained and scored in the same run, on the same split; with several
  runs (seeds), the mean of their margins;
- `demo_minutes` <= 20: from a fresh clone, the demo's own time (fetching and tokenizing the data,
  training, the baseline) plus `--setup-seconds` (the venv and the extension's build, which the demo
  cannot time itself); with several runs, the slowest. Without --setup-seconds there is no time bar.
Any other run (a --quick one, other settings, one direction) is refused: it is not what `make demo` runs.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bar, last_perplexities, print_table, write_results  # noqa: E402

MARGIN_TARGET = 0.02  # points over TF-IDF + LR, as a fraction
MINUTES_TARGET = 20.0


def check_report(report: dict) -> None:
    """ValueError for a report the bars cannot come from."""
    if "baseline_tfidf_lr_accuracy" not in report or "imdb_test_accuracy" in report:
        raise ValueError("not a `make demo` report (no baseline_tfidf_lr_accuracy)")
    if report.get("quick"):
        raise ValueError("a --quick run checks the plumbing only: it gives no accuracy to record")
    if not report.get("default_settings"):
        raise ValueError("not the demo's default settings (only --seed, --data and --out may be set): "
                         "`make demo` does not run it")
    if report["models"] != ["forward", "backward"]:
        raise ValueError(f"one direction only ({report['models']}): the demo is the forward + backward ensemble")


def demo_bars(reports: list[dict], setup_seconds: float | None = None) -> tuple[list[dict], dict, dict]:
    """(rows, bars, extra) of one or more demo reports (seeds: the margin bar is their mean, the time
    bar their slowest); ValueError for reports the bars cannot come from."""
    if not reports:
        raise ValueError("no report")
    for report in reports:
        check_report(report)
    precisions = {report["precision"] for report in reports}
    seeds = [report["seed"] for report in reports]
    if len(precisions) > 1:
        raise ValueError(f"runs in different precisions ({sorted(precisions)}) have different defaults")
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"the same seed twice ({seeds}): each run should be another seed")
    if setup_seconds is not None and not setup_seconds >= 0:
        raise ValueError(f"--setup-seconds must be 0 or more, got {setup_seconds}")
    rows, margins, runs = [], [], []
    for report in reports:
        baseline = report["baseline_tfidf_lr_accuracy"]
        margins.append(report["test_accuracy"] - baseline)
        rows.append({"seed": report["seed"], "forward": report["forward_test_accuracy"],
                     "backward": report["backward_test_accuracy"], "forward_backward": report["test_accuracy"],
                     "tfidf_lr": baseline, "margin": margins[-1], "minutes": report["seconds"] / 60})
        runs.append({**{k: report.get(k) for k in ("seed", "seconds", "cpu", "gemm_path", "pretrain_tokens",
                                                   "pretrain_text", "init_embeddings")},
                     "perplexity": last_perplexities(report)})
    bars = {"demo_margin_over_tfidf": bar(sum(margins) / len(margins), MARGIN_TARGET)}
    minutes = None
    if setup_seconds is not None:
        minutes = (max(report["seconds"] for report in reports) + setup_seconds) / 60
        bars["demo_minutes"] = bar(minutes, MINUTES_TARGET, higher_is_better=False)
    extra = {"precision": precisions.pop(), "seeds": seeds, "setup_seconds": setup_seconds,
             "minutes_from_a_fresh_clone": minutes, "recipe": reports[0].get("recipe"),
             "config": reports[0].get("config"), "test_documents": reports[0].get("test_documents"), "runs": runs}
    return rows, bars, extra


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished `make demo` folders (with report.json), one per seed")
    parser.add_argument("--setup-seconds", type=float, default=None,
                        help="the fresh clone's set-up before the demo (`time make build`), for the time bar")
    args = parser.parse_args(argv)
    reports = []
    for run in args.runs:
        path = Path(run) / "report.json"
        if not path.is_file():
            parser.error(f"{path}: no report; is the demo run finished?")
        reports.append(json.loads(path.read_text()))
    try:
        rows, bars, extra = demo_bars(reports, args.setup_seconds)
    except (ValueError, KeyError) as error:
        parser.error(str(error))
    print_table(rows, ["seed", "forward", "backward", "forward_backward", "tfidf_lr", "margin", "minutes"])
    for name, value in bars.items():
        verdict = "holds" if value["holds"] else "does not hold"
        print(f"{name}: {value['value']:.4f} (target {value['target']}): {verdict}")
    return write_results(__file__, rows, bars, extra={"run_folders": args.runs, **extra},
                         name=f"demo_{extra['precision']}")


if __name__ == "__main__":
    main()
