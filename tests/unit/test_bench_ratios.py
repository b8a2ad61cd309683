"""bench.results: a target's ratio pairs the figures repetition by repetition (no timing here)."""

from bench.results import Figure, Target


def figure(key: str, *samples: float) -> Figure:
    return Figure(key=key, label=key, conditions="", unit="events/s", samples=list(samples))


def test_a_targets_ratio_is_the_median_of_the_repetitions_own_ratios():
    # Repetition 2 met the machine slow for both; the medians would pair 100 with 50.
    figures = {
        "platform": figure("platform", 90, 40, 85),
        "raw": figure("raw", 100, 50, 110),
    }
    ratio, verdict = Target("platform", "platform >= 0.8 x raw", "raw", 0.8).judge(figures)
    assert (ratio, verdict) == ("0.800 x", "pass")  # ratios 0.9, 0.8, 0.77...; ratio of medians 0.85


def test_figures_measured_a_different_number_of_times_fall_back_to_the_ratio_of_medians():
    figures = {"platform": figure("platform", 70, 90), "raw": figure("raw", 100, 100, 100)}
    ratio, verdict = Target("platform", "platform >= 0.9 x raw", "raw", 0.9).judge(figures)
    assert (ratio, verdict) == ("0.800 x", "MISS")
