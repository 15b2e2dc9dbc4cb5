"""`import ulmlite` works without the compiled extension, and the fused path then says how to build it."""

import subprocess
import sys

BLOCK_EXTENSION = "import sys; sys.modules['ulmlite._C'] = None\n"  # makes `import ulmlite._C` fail


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_EXTENSION + code], capture_output=True, text=True)


def test_import_without_extension():
    result = run_python("import ulmlite, ulmlite.nn, ulmlite.nn.fused_lstm, ulmlite.nn.fused_loss; "
                        "print(ulmlite.extension_available())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_fused_without_extension_gives_one_clear_line():
    code = (
        "import torch\n"
        "from ulmlite.nn.fused_lstm import lstm_cell\n"
        "try:\n"
        "    lstm_cell(torch.zeros(1, 4), torch.zeros(1, 1))\n"
        "except RuntimeError as err:\n"
        "    print(err)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert "make build" in lines[0] and "pip install --no-build-isolation" in lines[0]
