"""Training settings for the command line: defaults, a TOML file, then flags, later ones winning."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, Optional

from ..training.settings import ESTIMATOR, ESTIMATOR_BATCH_SIZE, ESTIMATOR_SOLVER

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

#: Every setting ``fnn train`` takes, with its default and type. Names match the TOML keys; the
#: flags spell them with dashes (``learning_rate`` is ``--learning-rate``).
DEFAULTS: Dict[str, Any] = {
    "hidden": [64],
    "activation": "relu",
    **{name: getattr(ESTIMATOR, name) for name in ("learning_rate", "max_epochs", "patience", "validation_fraction")},
    "l2": None,  # the estimator's: FNNClassifier's 1e-4, FNNRegressor's 0.025
    "batch_size": ESTIMATOR_BATCH_SIZE,
    "solver": ESTIMATOR_SOLVER,
    "momentum": ESTIMATOR.momentum,
    "schedule": ESTIMATOR.schedule,
    "dtype": "float32",
    "seed": 0,
    "threads": None,
    "task": "auto",
    "target": None,
}
_TYPES = {"hidden": list, "activation": str, "learning_rate": float, "l2": float, "batch_size": int,
          "max_epochs": int, "patience": int, "validation_fraction": float, "dtype": str, "seed": int,
          "threads": int, "task": str, "target": str, "solver": str, "momentum": float, "schedule": str}


class ConfigError(ValueError):
    """A settings file or value that cannot be used."""


def read_config(path: Path) -> Dict[str, Any]:
    """The settings in a TOML file: top-level keys, or the keys of a ``[train]`` table."""
    try:
        with open(path, "rb") as stream:
            document = tomllib.load(stream)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such settings file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    settings = document.get("train", document) if isinstance(document.get("train"), dict) else document
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    for key, value in settings.items():
        expected = _TYPES[key]
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if key == "hidden" and ok:
            ok = all(isinstance(m, int) and not isinstance(m, bool) for m in value)
        if key == "batch_size" and value == "auto":
            ok = True
        if key == "target" and isinstance(value, int) and not isinstance(value, bool):
            settings[key], ok = str(value), True
        if not ok:
            raise ConfigError(f"{path}: {key} = {value!r} should be "
                              f"{'a list of integers' if key == 'hidden' else 'a ' + expected.__name__}"
                              + (" or 'auto'" if key == "batch_size" else ""))
    return dict(settings)


def merge(file_settings: Optional[Dict[str, Any]], flags: Dict[str, Any]) -> Dict[str, Any]:
    """Defaults, overridden by the file's settings, overridden by the flags actually given."""
    settings = dict(DEFAULTS)
    settings.update(file_settings or {})
    settings.update({k: v for k, v in flags.items() if v is not None and k in DEFAULTS})
    return settings
