"""`python -m bench --render-only` on a checkout without the run's figures: only the analysis part changes."""

import pytest

from bench import report


@pytest.fixture
def analysis(tmp_path, monkeypatch):
    path = tmp_path / "analysis.md"
    monkeypatch.setattr(report, "ANALYSIS", path)
    return path


def test_the_analysis_part_is_replaced_and_the_figures_kept(analysis):
    analysis.write_text("## Notes\n\nnew words\n")
    document = (
        f"# Benchmarks\n\n| figure | 1,234 events/s |\n\n{report.ANALYSIS_MARKER}\n## Notes\n\nold words\n"
    )

    rendered = report.with_current_analysis(document)

    assert (
        rendered
        == f"# Benchmarks\n\n| figure | 1,234 events/s |\n\n{report.ANALYSIS_MARKER}\n## Notes\n\nnew words\n"
    )
    assert report.with_current_analysis(rendered) == rendered


def test_a_document_without_the_marker_is_refused(analysis):
    analysis.write_text("new words\n")

    with pytest.raises(SystemExit, match="no analysis marker"):
        report.with_current_analysis("# Benchmarks\n\nold words\n")
