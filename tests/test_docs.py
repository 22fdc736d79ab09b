"""The README and the documentation (docs/) cannot drift from the code: their Python snippets run
on their own and print what their `# → …` comments say, their command transcripts are what the
commands print today (times and speeds aside), and the README's links lead somewhere."""

import contextlib
import io
import re
import warnings
from pathlib import Path

import pytest

from fnn.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
#: The README and every documentation page, by path from the repository root.
PAGES = {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
         for path in [README, *sorted((ROOT / "docs").rglob("*.md"))]}
SNIPPETS = [(name, snippet) for name, text in PAGES.items()
            for snippet in re.findall(r"```python\n(.*?)```", text, re.S)]


def _pattern(expected: str) -> str:
    """A regular expression for an expected output: "…" stands for any further digits/text."""
    return ".*?".join(re.escape(part) for part in expected.split("…"))


@pytest.mark.parametrize("page, snippet", SNIPPETS,
                         ids=[f"{page}-snippet{i}" for i, (page, _) in enumerate(SNIPPETS)])
def test_python_snippets_run_on_their_own_and_print_what_they_say(page, snippet, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    output = io.StringIO()
    with contextlib.redirect_stdout(output), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(snippet, page, "exec"), {"__name__": "__docs__"})
    printed = output.getvalue()
    for expected in re.findall(r"#\s*→\s*(.+)$", snippet, re.M):
        assert re.search(_pattern(expected.strip()), printed), f"{page} says {expected!r}; the code printed:\n{printed}"


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


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_the_main_job_transcript_is_what_python_dash_m_fnn_prints(capsys, page):
    block = re.search(r"pip install \. && python -m fnn\n```\n\n.*?```text\n(.*?)```", PAGES[page], re.S)
    assert block, f"the main-job transcript of {page} is missing"
    assert main([]) == 0
    _assert_transcript(block.group(1).splitlines(), capsys.readouterr().out)


def test_the_fnn_train_transcript_is_what_fnn_train_prints(capsys, tmp_path, monkeypatch):
    block = re.search(r"```text\n\$ (fnn train .*?)\n(.*?)```", PAGES["docs/guide/cli.md"], re.S)
    assert block, "the command-line page's fnn train transcript is missing"
    monkeypatch.chdir(tmp_path)
    argv = block.group(1).split()[1:]
    curve = Path(argv[argv.index("--curve") + 1])
    curve.parent.mkdir(parents=True)
    assert main(argv) == 0
    _assert_transcript(block.group(2).splitlines(), capsys.readouterr().out)
    assert curve.exists()


@pytest.mark.slow
def test_the_defaults_table_is_what_bench_defaults_measures():
    """The estimators page's table of scores at the defaults (issue 11) against a fresh run of the script."""
    from bench.defaults import main as defaults

    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = defaults(["--check", str(ROOT / "docs" / "guide" / "estimators.md")])
    assert status == 0, output.getvalue()


def test_the_readme_is_a_first_visit_and_its_links_lead_somewhere():
    assert len(TEXT.splitlines()) <= 220, "the README is for a first visit; the rest belongs in docs/"
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", TEXT):
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).exists(), f"the README links to {target}, which does not exist"


def test_every_page_is_in_the_site_navigation():
    listed = set(re.findall(r":\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M))
    pages = {name[len("docs/"):] for name in PAGES if name.startswith("docs/")}
    assert pages == listed


# ---------------------------------------------------------------------------------- experiments

EXPERIMENTS_MD = ROOT / "docs" / "experiments.md"

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
