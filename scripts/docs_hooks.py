"""mkdocs hooks (mkdocs.yml): the figures are made before the site is built, when any is missing
(FNN_DOCS_FIGURES=always remakes them all)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures  # noqa: E402

FIGURES = ["experiments/xor.png", "learning-curve.png", "bench/latest.png", "bench/busy.png", "bench/tabular.png",
           "playground.png"]


def on_pre_build(config, **kwargs):
    out = Path(config["docs_dir"]) / "images"
    if os.environ.get("FNN_DOCS_FIGURES") == "always" or not all((out / f).exists() for f in FIGURES):
        figures.make(out)
