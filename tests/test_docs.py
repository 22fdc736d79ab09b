"""The README cannot drift from the code: its Python snippets run on their own and print what their
`# → …` comments say, and its command transcripts are what the commands print today (times and
speeds aside)."""

import contextlib
import io
import re
import warnings
from pathlib import Path

import pytest

from fnn.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
SNIPPETS = re.findall(r"```python\n(.*?)```", TEXT, re.S)


def _pattern(expected: str) -> str:
    """A regular expression for an expected output: "…" stands for any further digits/text."""
    return ".*?".join(re.escape(part) for part in expected.split("…"))


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_python_snippets_run_on_their_own_and_print_what_they_say(snippet, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    output = io.StringIO()
    with contextlib.redirect_stdout(output), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(snippet, "README.md", "exec"), {"__name__": "__readme__"})
    printed = output.getvalue()
    for expected in re.findall(r"#\s*→\s*(.+)$", snippet, re.M):
        assert re.search(_pattern(expected.strip()), printed), f"README says {expected!r}; the code printed:\n{printed}"


#: What changes from run to run: durations, speeds, ETAs, the number of cores.
_VOLATILE = [(re.compile(r"[\d.,]+ ?s\b(–[\d.,]+s)?"), "<time>"), (re.compile(r"[\d,]+ samples/s"), "<speed>"),
             (re.compile(r"\d+ thread\(s\)"), "<threads>"), (re.compile(r"ETA \S+"), "ETA <eta>")]


def _normalised(line: str) -> str:
    for pattern, placeholder in _VOLATILE:
        line = pattern.sub(placeholder, line)
    return line.rstrip()


def _assert_transcript(expected_lines, printed: str) -> None:
    """Every line of the transcript but progress lines and "…" appears in the output, in order."""
    actual = [_normalised(line) for line in printed.splitlines()]
    position = 0
    for line in expected_lines:
        if line.strip() in ("…", "") or line.startswith("epoch "):
            continue
        wanted = _normalised(line)
        assert wanted in actual[position:], f"README line {line!r} is not what the command prints:\n{printed}"
        position = actual.index(wanted, position) + 1


def test_the_main_job_transcript_is_what_python_dash_m_fnn_prints(capsys):
    block = re.search(r"pip install \. && python -m fnn\n```\n\n.*?```text\n(.*?)```", TEXT, re.S)
    assert block, "the README's main-job transcript is missing"
    assert main([]) == 0
    _assert_transcript(block.group(1).splitlines(), capsys.readouterr().out)


def test_the_fnn_train_transcript_is_what_fnn_train_prints(capsys, tmp_path, monkeypatch):
    block = re.search(r"```text\n\$ (fnn train .*?)\n(.*?)```", TEXT, re.S)
    assert block, "the README's fnn train transcript is missing"
    monkeypatch.chdir(tmp_path)
    argv = block.group(1).split()[1:]
    curve = Path(argv[argv.index("--curve") + 1])
    curve.parent.mkdir(parents=True)
    assert main(argv) == 0
    _assert_transcript(block.group(2).splitlines(), capsys.readouterr().out)
    assert curve.exists()


@pytest.mark.slow
def test_the_defaults_table_is_what_bench_defaults_measures():
    """The README's table of scores at the defaults (issue 11) against a fresh run of the script."""
    from bench.defaults import main as defaults

    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = defaults(["--check", str(README)])
    assert status == 0, output.getvalue()


# ---------------------------------------------------------------------------------- experiments

EXPERIMENTS_MD = README.parent / "docs" / "experiments.md"

#: Numbers in docs/experiments.md that are settings or bounds, not something an experiment prints.
_NOT_RESULTS = {"activations": {"1e-15"}, "universal-approximation": {"300"}, "vanishing-gradient": {"32"},
                "zero-centred": {"−1"}}
_NUMBER = re.compile(r"(?<![\w.⁽])[-−]?\d{1,3}(?:,\d{3})+(?!\d)|(?<![\w.⁽])[-−]?\d+(?:\.\d+)?(?:e[-−]?\d+)?%?(?!-D)")


def _prose(section: str) -> str:
    """A section's text without images, intervals, equation references and figure/table/section
    numbers."""
    text = re.sub(r"!\[.*?\]\(.*?\)", "", section)
    text = re.sub(r"\[[^\]]*\]²?", "", text)
    text = re.sub(r"\((?:4\.\d+[a-z]?)(?:[–-](?:4\.)?\d+)?\)", "", text)
    return re.sub(r"(figures?|table|section|exercise|equation|fig\.)\s+[\d.–-]+(?:\s*(?:and|,)\s*[\d.–-]+)*", "",
                  text)


def _quotes(written: str, value: float) -> bool:
    """Whether `written` (as in the notes) is `value` rounded as the notes round it."""
    number = float(written.rstrip("%").replace("−", "-").replace(",", ""))
    if "e" in written:
        mantissa = written.replace("−", "-").split("e")[0]
        digits = len(mantissa.replace("-", "").replace(".", ""))
        return float(f"{value:.{digits - 1}e}") == number
    decimals = len(written.rstrip("%").split(".")[1]) if "." in written else 0
    return round(value, decimals) == number


@pytest.fixture(scope="module")
def experiment_reports(tmp_path_factory):
    from fnn.chapter.experiments import EXPERIMENTS, run_experiment

    folder = tmp_path_factory.mktemp("figures")
    return {name: "\n".join(run_experiment(name, folder / f"{name}.png").report()) for name in EXPERIMENTS}


@pytest.mark.slow
def test_the_experiment_notes_quote_what_the_experiments_print(experiment_reports):
    """Every number in docs/experiments.md is one that its experiment prints (as rounded there)."""
    sections = re.split(r"^## ", EXPERIMENTS_MD.read_text(encoding="utf-8"), flags=re.M)[1:]
    assert {section.split()[0] for section in sections} == set(experiment_reports)
    stale = []
    for section in sections:
        name = section.split()[0]
        report = experiment_reports[name]
        printed = [float(n.rstrip("%").replace("−", "-").replace(",", "")) for n in _NUMBER.findall(report)]
        for written in _NUMBER.findall(_prose(section)):
            if written in _NOT_RESULTS.get(name, ()):
                continue
            if written.endswith("%") and written in report:
                continue
            if not any(_quotes(written, value) for value in printed):
                stale.append(f"{name}: {written}")
    assert not stale, f"numbers in {EXPERIMENTS_MD.name} that the experiments no longer print: {stale}"
