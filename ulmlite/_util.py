"""Small helpers shared across the package."""


def first_line(err: BaseException) -> str:
    """The first line of an exception's message, or its type when the message is empty."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
