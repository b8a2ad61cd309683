"""The table of medians, ratios and targets: printed, and written to docs/benchmarks.md."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from .results import TARGETS, Figure

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
ANALYSIS = Path(__file__).resolve().parent / "analysis.md"
# The line after which docs/benchmarks.md holds analysis.md as it was at the last render.
ANALYSIS_MARKER = "<!-- Below: bench/analysis.md (edit it there, then `python -m bench --render-only`). -->"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def figures_table(figures: dict[str, Figure]) -> str:
    rows = [
        "| figure | conditions | median | min - max | runs |",
        "|---|---|---:|---:|---:|",
    ]
    for f in figures.values():
        low, high = f.spread
        rows.append(
            f"| {f.label} | {f.conditions} | {_number(f.median)} {f.unit} | "
            f"{_number(low)} - {_number(high)} | {len(f.samples)} |"
        )
    return "\n".join(rows)


def targets_table(figures: dict[str, Figure]) -> str:
    rows = ["| target | measured (median) | ratio | result |", "|---|---:|---:|---|"]
    for target in TARGETS:
        ratio, verdict = target.judge(figures)
        measured = figures.get(target.figure)
        value = f"{_number(measured.median)} {measured.unit}" if measured and measured.samples else "not run"
        if target.baseline and target.baseline in figures:
            base = figures[target.baseline]
            value += f" vs {_number(base.median)} {base.unit}"
            if measured and measured.samples and base.median:
                value += f" (ratio of medians {measured.median / base.median:.3f} x)"
        rows.append(f"| {target.text} | {value} | {ratio} | {verdict} |")
    return "\n".join(rows)


def render(
    figures: dict[str, Figure], machine: dict[str, str], settings: dict[str, str], profile: str
) -> str:
    machine_lines = "\n".join(f"| {k} | {v} |" for k, v in machine.items())
    settings_lines = "\n".join(f"| {k} | {v} |" for k, v in settings.items())
    analysis = ANALYSIS.read_text() if ANALYSIS.exists() else ""
    profile_block = ""
    if profile:
        top = "\n".join(profile.splitlines()[:60])
        profile_block = (
            f"\n## Profile of `POST /api/posts/` (pyinstrument, top of the call tree)\n\n```\n{top}\n```\n"
        )
    return f"""# Benchmarks

Measured by `make bench` (`bench/`, see `bench/README.md`), all figures in one run on one machine.
Medians of the repetitions, with min - max. Raw, peer and platform run back to back within
each repetition, so they share the machine's conditions: a target's ratio is the median of
the repetitions' own ratios (the ratio of the medians is beside it).

## Machine

| | |
|---|---|
{machine_lines}

## Run

| | |
|---|---|
{settings_lines}

## Targets (issues 9, 19 and 24)

{targets_table(figures)}

## Figures

{figures_table(figures)}
{profile_block}
{ANALYSIS_MARKER}
{analysis}"""


def write(text: str) -> None:
    if os.environ.get("BENCH_NO_DOCS"):
        return
    DOC.write_text(text)


def save(path: Path, figures: dict[str, Figure], machine: dict, settings: dict, profile: str) -> None:
    """Keep the run's figures, so the document can be re-rendered after its notes change."""
    payload = {
        "figures": [dataclasses.asdict(f) for f in figures.values()],
        "machine": machine,
        "settings": settings,
        "profile": profile,
    }
    path.write_text(json.dumps(payload, indent=1))


def render_saved(path: Path) -> str:
    saved = json.loads(path.read_text())
    figures = {f["key"]: Figure(**f) for f in saved["figures"]}
    return render(figures, saved["machine"], saved["settings"], saved["profile"])


def with_current_analysis(document: str) -> str:
    """The committed document with its analysis part replaced by analysis.md as it is now.

    For a checkout without the run's figures.json (bench/results/ is not
    committed): the figures stay those of the committed run.
    """
    head, marker, _ = document.partition(ANALYSIS_MARKER)
    if not marker:
        raise SystemExit(f"{DOC} has no analysis marker: run the whole bench once to render it")
    analysis = ANALYSIS.read_text() if ANALYSIS.exists() else ""
    return f"{head}{ANALYSIS_MARKER}\n{analysis}"
