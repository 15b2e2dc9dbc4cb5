"""The IMDB accuracy bar from a finished `ulmlite lesson` run: reads <run>/report.json and writes
benchmarks/results/lesson_imdb.json (the run's test accuracies, the baselines measured in the same
run, its time, CPU and precision, and the bar `imdb_test_accuracy` >= 0.92 for the forward +
backward ensemble).

    python benchmarks/lesson_bars.py runs/lesson

The bar is the ensemble's accuracy on our split with the classifier trained on every training
review: a `--quick` run is refused, and a `--train-docs` subset is recorded without the bar (its
pretraining gain, with seeds, is benchmarks/transfer_control.py's).
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ACCURACY_TARGETS, accuracy_bar_applies, bar, last_perplexities, print_table, write_results  # noqa: E402


def lesson_bars(report: dict) -> tuple[list[dict], dict, dict]:
    """(rows, bars, extra) of a lesson report; ValueError for a report the bar cannot come from."""
    if "imdb_test_accuracy" not in report:
        raise ValueError("not a `ulmlite lesson` report (no imdb_test_accuracy)")
    if report.get("quick"):
        raise ValueError("a --quick run checks the plumbing only: it gives no accuracy to record")
    rows = [{"model": f"ULMFiT {name}", "test_accuracy": report[f"{name}_test_accuracy"],
             "valid_accuracy": report[f"{name}_valid_accuracy"]} for name in report["models"]]
    if len(report["models"]) > 1:
        rows.append({"model": "ULMFiT forward + backward", "test_accuracy": report["imdb_test_accuracy"]})
    rows += [{"model": name, "test_accuracy": value} for name, value in report["baselines"].items()]
    bars = {}
    if accuracy_bar_applies(report, report["models"]):
        bars["imdb_test_accuracy"] = bar(report["imdb_test_accuracy"], ACCURACY_TARGETS["imdb_test_accuracy"])
    extra = {k: report.get(k) for k in ("train_docs", "train_docs_available", "test_documents", "seconds", "cpu",
                                        "precision", "gemm_path", "lm_train_tokens", "pretrain_tokens",
                                        "init_embeddings", "confusion_matrix", "recipe")}
    extra["perplexity"] = last_perplexities(report)
    return rows, bars, extra


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a finished `ulmlite lesson` folder (with report.json)")
    args = parser.parse_args(argv)
    path = Path(args.run) / "report.json"
    if not path.is_file():
        parser.error(f"{path}: no report; is the lesson run finished?")
    try:
        rows, bars, extra = lesson_bars(json.loads(path.read_text()))
    except (ValueError, KeyError) as error:
        parser.error(f"{path}: {error}")
    print_table(rows, ["model", "test_accuracy", "valid_accuracy"])
    if not bars:
        print(f"the classifier trained on {extra['train_docs']} of {extra['train_docs_available']} reviews "
              f"(or one direction): no imdb_test_accuracy bar")
    return write_results(__file__, rows, bars, extra={"run": str(args.run), **extra}, name="lesson_imdb")


if __name__ == "__main__":
    main()
