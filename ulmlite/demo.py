"""`make demo`: what ulmlite can do so far, run end to end on this machine.

Step 1 checks the compiled extension against the plain-PyTorch gate math over a real sequence.
"""

import torch

import ulmlite


def check_extension(seq_len: int = 70, batch: int = 52, hidden: int = 1150) -> None:
    """Run one LSTM layer's pointwise steps through the fused op and through torch ops, compare."""
    ulmlite.require_extension()
    from ulmlite.nn.fused import lstm_cell

    torch.manual_seed(0)
    gates = torch.randn(seq_len, batch, 4 * hidden)
    c_fused = c_ref = torch.zeros(batch, hidden)
    worst = 0.0
    for t in range(seq_len):
        h_fused, c_fused = lstm_cell(gates[t], c_fused)
        i, f, g, o = gates[t].chunk(4, dim=1)
        c_ref = torch.sigmoid(f) * c_ref + torch.sigmoid(i) * torch.tanh(g)
        h_ref = torch.sigmoid(o) * torch.tanh(c_ref)
        worst = max(worst, (h_fused - h_ref).abs().max().item())
    print(f"fused LSTM cell vs torch ops over {seq_len} steps, batch {batch}, hidden {hidden}:")
    print(f"  max |h difference| = {worst:.2e}")


def main() -> None:
    print(f"ulmlite {ulmlite.__version__}, torch {torch.__version__}, extension built: {ulmlite.extension_available()}")
    check_extension()


if __name__ == "__main__":
    main()
