"""Data parallelism over torch.distributed (start with `torchrun --nproc_per_node N`; gloo on CPU,
NCCL on GPU). Each rank reads its own slice of the data and keeps its own LSTM hidden state; after
every backward the gradients are averaged over ranks (one all-reduce of all of them, flattened),
metrics are summed over ranks, and only rank 0 writes checkpoints. Without an initialized process
group every function here is a no-op."""

import os

import torch
import torch.distributed as tdist


def active() -> bool:
    return tdist.is_available() and tdist.is_initialized()


def rank() -> int:
    return tdist.get_rank() if active() else 0


def world_size() -> int:
    return tdist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def init_from_environment() -> bool:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR ...), if any."""
    if active() or "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) < 2:
        return active()
    tdist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True


def broadcast_parameters(model: torch.nn.Module) -> None:
    """Every rank starts from rank 0's weights."""
    if active():
        for tensor in model.state_dict().values():
            tdist.broadcast(tensor, 0)


def average_gradients(model: torch.nn.Module) -> None:
    if not active():
        return
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    tdist.all_reduce(flat)
    flat /= world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def all_reduce_sums(values: list[float]) -> list[float]:
    if not active():
        return values
    t = torch.tensor(values, dtype=torch.float64)
    tdist.all_reduce(t)
    return t.tolist()


def min_over_ranks(value: int) -> int:
    """Every rank must run the same number of steps (each step all-reduces the gradients)."""
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.int64)
    tdist.all_reduce(t, op=tdist.ReduceOp.MIN)
    return int(t.item())


def barrier() -> None:
    if active():
        tdist.barrier()


def shard(ids, rank_: int | None = None, world: int | None = None):
    """This rank's contiguous slice of a token stream (for the language-model loader)."""
    rank_, world = rank() if rank_ is None else rank_, world_size() if world is None else world
    n = len(ids) // world
    return ids[rank_ * n : (rank_ + 1) * n]
