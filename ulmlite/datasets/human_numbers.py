"""A small corpus to watch a language model learn in seconds, made in code (no download): the
numbers 1..n spelled out in English words, in order, one per document ("one", "two", ...,
"nine thousand nine hundred ninety nine"), as fastbook's Human Numbers. Its next word is
predictable from the words before it, which word frequencies alone cannot do."""

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def spell(n: int) -> str:
    """`n` (0 <= n < 1,000,000) in words: 342 -> "three hundred forty two"."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"spell takes 0 <= n < 1000000, got {n}")
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + spell(n % 100))
    return spell(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + spell(n % 1000))


def human_numbers(n: int = 10_000, start: int = 1) -> list[str]:
    """The documents "one", "two", ... up to n - 1 (from `start`), each number one document."""
    if n <= start:
        raise ValueError(f"human_numbers needs n > start, got n={n}, start={start}")
    return [spell(k) for k in range(start, n)]
