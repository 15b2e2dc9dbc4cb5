"""The demo's bars from a finished `make demo` run: reads <run>/report.json and writes
benchmarks/results/demo_<precision>.json (fp32 or bf16: the demo's defaults differ by precision).

    time make build                                        # in a fresh clone: the set-up's seconds
    make demo                                              # runs/demo/report.json
    python benchmarks/demo_bars.py runs/demo --setup-seconds 200

Bars, for a run with the demo's default settings (any --seed, --data, --out) and both directions:
- `demo_margin_over_tfidf` >= 0.02: the forward + backward ensemble's test accuracy minus that of
  TF-IDF + logistic regression trained and scored in the same run, on the same split;
- `demo_minutes` <= 20: from a fresh clone, the demo's own time (fetching and tokenizing the data,
  training, the baseline) plus `--setup-seconds` (the venv and the extension's build, which the demo
  cannot time itself). Without --setup-seconds there is no time bar.
Any other run (a --quick one, other settings, one direction) is refused: it is not what `make demo` runs.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bar, print_table, write_results  # noqa: E402

MARGIN_TARGET = 0.02  # points over TF-IDF + LR, as a fraction
MINUTES_TARGET = 20.0


def demo_bars(report: dict, setup_seconds: float | None = None) -> tuple[list[dict], dict, dict]:
    """(rows, bars, extra) of a demo report; ValueError for a report the bars cannot come from."""
    if "baseline_tfidf_lr_accuracy" not in report or "imdb_test_accuracy" in report:
        raise ValueError("not a `make demo` report (no baseline_tfidf_lr_accuracy)")
    if report.get("quick"):
        raise ValueError("a --quick run checks the plumbing only: it gives no accuracy to record")
    if not report.get("default_settings"):
        raise ValueError("not the demo's default settings (only --seed, --data and --out may be set): "
                         "`make demo` does not run it")
    if report["models"] != ["forward", "backward"]:
        raise ValueError(f"one direction only ({report['models']}): the demo is the forward + backward ensemble")
    if setup_seconds is not None and not setup_seconds >= 0:
        raise ValueError(f"--setup-seconds must be 0 or more, got {setup_seconds}")
    baseline = report["baseline_tfidf_lr_accuracy"]
    rows = [{"model": f"ULMFiT {name}", "test_accuracy": report[f"{name}_test_accuracy"],
             "valid_accuracy": report[f"{name}_valid_accuracy"]} for name in report["models"]]
    rows += [{"model": "ULMFiT forward + backward", "test_accuracy": report["test_accuracy"]},
             {"model": "TF-IDF + logistic regression", "test_accuracy": baseline}]
    bars = {"demo_margin_over_tfidf": bar(report["test_accuracy"] - baseline, MARGIN_TARGET)}
    minutes = None
    if setup_seconds is not None:
        minutes = (report["seconds"] + setup_seconds) / 60
        bars["demo_minutes"] = bar(minutes, MINUTES_TARGET, higher_is_better=False)
    extra = {k: report.get(k) for k in ("seed", "seconds", "cpu", "precision", "gemm_path", "pretrain_tokens",
                                        "pretrain_text", "init_embeddings", "test_documents", "recipe", "config")}
    extra.update(setup_seconds=setup_seconds, minutes_from_a_fresh_clone=minutes)
    extra["perplexity"] = {name: {step: history[-1]["perplexity"] for step, history in report["history"][name].items()
                                  if history and "perplexity" in history[-1]} for name in report["models"]}
    return rows, bars, extra


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a finished `make demo` folder (with report.json)")
    parser.add_argument("--setup-seconds", type=float, default=None,
                        help="the fresh clone's set-up before the demo (`time make build`), for the time bar")
    args = parser.parse_args(argv)
    path = Path(args.run) / "report.json"
    if not path.is_file():
        parser.error(f"{path}: no report; is the demo run finished?")
    try:
        rows, bars, extra = demo_bars(json.loads(path.read_text()), args.setup_seconds)
    except (ValueError, KeyError) as error:
        parser.error(f"{path}: {error}")
    print_table(rows, ["model", "test_accuracy", "valid_accuracy"])
    for name, value in bars.items():
        verdict = "holds" if value["holds"] else "does not hold"
        print(f"{name}: {value['value']:.4f} (target {value['target']}): {verdict}")
    return write_results(__file__, rows, bars, extra={"run": str(args.run), **extra},
                         name=f"demo_{extra['precision']}")


if __name__ == "__main__":
    main()
