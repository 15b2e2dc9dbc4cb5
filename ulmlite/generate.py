"""Text generation from a language model: feed the prompt, then sample one token at a time with the
hidden state carried, from softmax(logits / temperature) restricted to the top k."""

import torch

from ulmlite.nn import LanguageModel
from ulmlite.text import Tokenizer, Vocab


@torch.no_grad()
def generate(model: LanguageModel, vocab: Vocab, prompt: str, n_tokens: int = 50, temperature: float = 1.0,
             top_k: int | None = 40, no_unk: bool = True, seed: int | None = None) -> list[str]:
    """The tokens that follow `prompt`. Reproducible with `seed`; never `_unk_` (or `_pad_`) when
    `no_unk`. temperature 0 picks the most likely token."""
    if n_tokens < 0:
        raise ValueError(f"n_tokens must be >= 0, got {n_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    model.eval()
    model.reset()
    ids = torch.as_tensor(vocab.numericalize(Tokenizer().tokenize(prompt)), dtype=torch.long)
    logits, _, _ = model(ids.unsqueeze(1))
    last = logits[-1, 0].float()
    out = []
    for _ in range(n_tokens):
        if no_unk:
            last[vocab.unk_id] = last[vocab.pad_id] = float("-inf")
        if temperature == 0:
            token = int(last.argmax())
        else:
            scores = last / temperature
            if top_k:
                kth = torch.topk(scores, min(top_k, scores.numel())).values[-1]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            token = int(torch.multinomial(torch.softmax(scores, -1), 1, generator=generator))
        out.append(vocab.itos[token])
        logits, _, _ = model(torch.tensor([[token]]))
        last = logits[-1, 0].float()
    return out


def detokenize(tokens: list[str]) -> str:
    """A readable string: spaces between tokens, none before punctuation and spaCy's n't / 's."""
    text = ""
    for token in tokens:
        glue = token in {".", ",", "!", "?", ";", ":", ")", "'s", "n't", "'re", "'ve", "'ll", "'d", "'m"} or not text
        text += token if glue or text.endswith(("(", "\n")) else " " + token
    return text
