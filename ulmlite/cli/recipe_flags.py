"""The recipe's flags, derived from the fields of `Recipe` and its `AWDLSTMConfig`: a new field is
a new flag, with no list to keep by hand."""

import argparse
from dataclasses import fields, replace

from ulmlite.nn import AWDLSTMConfig
from ulmlite.ulmfit import Recipe

CHOICES = {"precision": ["auto", "fp32", "bf16"], "backend": ["python", "torch", "fused", "auto"],
           "loss_backend": ["torch", "fused", "auto"]}
ALIASES = {"clf_discriminative": ["--discriminative"], "clf_keep_best": ["--keep-best"]}
# vocab_size and pad_id follow from the vocabulary; the dropouts are scaled by the *_drop_mult flags.
NOT_FLAGS = {"vocab_size", "pad_id", "dropouti", "dropout", "wdrop", "dropoute", "dropouth"}
ZERO_ALLOWED = ("epochs", "drop", "wd", "freq")  # fields whose value may be 0 (other numbers must be positive)


def recipe_fields():
    """(owner, field) of every setting a flag can change: the Recipe's own, then its config's."""
    yield from (("recipe", f) for f in fields(Recipe) if f.name != "config")
    yield from (("config", f) for f in fields(AWDLSTMConfig) if f.name not in NOT_FLAGS)


def _flag_names(name: str, command: str) -> list[str] | None:
    if command == "train-classifier" and name == "clip":
        return None  # the classifier clips with clf_clip: there --clip means that one
    names = [f"--{name.replace('_', '-')}", *ALIASES.get(name, [])]
    return names + ["--clip"] if command == "train-classifier" and name == "clf_clip" else names


def add_recipe_flags(p: argparse.ArgumentParser) -> None:
    command = p.prog.split()[-1]
    p.add_argument("--recipe", choices=["small", "lesson"], default="small",
                   help="small: CPU-sized (default); lesson: emb 400, hidden 1150, 3 layers, 60k vocabulary, "
                        "the lesson's rates and epochs (for a GPU)")
    group = p.add_argument_group("recipe values", "each overrides one value of the recipe")
    small, lesson = Recipe.small(), Recipe()
    for owner, f in recipe_fields():
        names = _flag_names(f.name, command)
        if names is None:
            continue
        default = getattr(small if owner == "recipe" else small.config, f.name)
        lesson_value = getattr(lesson if owner == "recipe" else lesson.config, f.name)
        helptext = f"small: {default:g}, lesson: {lesson_value:g}" if f.type is float else \
            f"small: {default}, lesson: {lesson_value}"
        if f.type is bool:
            group.add_argument(*names, dest=f.name, choices=["on", "off"], default=None, help=helptext)
        else:
            group.add_argument(*names, dest=f.name, type=f.type, choices=CHOICES.get(f.name), default=None,
                               help=helptext)
    p.add_argument("--bf16", action="store_true", help="the same as --precision bf16")
    p.add_argument("--backwards", action="store_true", help="read right to left (for a backward model)")
    p.add_argument("--seed", type=int, default=0)


def recipe_from_args(args) -> Recipe:
    """--recipe with the flags' values in place of its own."""
    recipe = Recipe() if args.recipe == "lesson" else Recipe.small()
    changes: dict[str, dict] = {"recipe": {}, "config": {}}
    for owner, f in recipe_fields():
        value = getattr(args, f.name, None)
        if value is None:
            continue
        if f.type is bool:
            value = value == "on"
        elif f.type in (int, float):
            zero_ok = any(z in f.name for z in ZERO_ALLOWED)
            if value < 0 or (value == 0 and not zero_ok):
                names = _flag_names(f.name, args.command)
                assert names is not None  # a field without a flag on this command has no value here
                raise ValueError(f"{names[-1]} must be {'at least 0' if zero_ok else 'positive'}, got {value}")
        changes[owner][f.name] = value
    if args.bf16:
        if changes["recipe"].get("precision", "bf16") != "bf16":
            raise ValueError(f"--bf16 means --precision bf16, but --precision {args.precision} was given too")
        changes["recipe"]["precision"] = "bf16"
    return replace(recipe, config=replace(recipe.config, **changes["config"]), **changes["recipe"])
