import pytest

from links_app.scanner.metrics import confusion_table, recall_at_fpr, roc_auc


def test_roc_auc_perfect_and_inverted():
    assert roc_auc([False, False, True, True], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([False, False, True, True], [0.9, 0.8, 0.2, 0.1]) == 0.0


def test_roc_auc_counts_ties_as_half():
    assert roc_auc([False, True], [0.5, 0.5]) == 0.5
    # one positive above both negatives, one tied with one negative: (2 + 1.5) / 4
    assert roc_auc([False, False, True, True], [0.1, 0.5, 0.5, 0.9]) == pytest.approx(0.875)


def test_roc_auc_needs_both_classes():
    with pytest.raises(ValueError):
        roc_auc([True, True], [0.1, 0.2])


def test_recall_at_fpr_picks_best_threshold_within_budget():
    labels = [False] * 10 + [True] * 4
    risks = [0.0] * 9 + [0.95] + [0.99, 0.9, 0.8, 0.0]
    assert recall_at_fpr(labels, risks, 0.0) == 0.25  # only 0.99 is above every benign score
    assert recall_at_fpr(labels, risks, 0.1) == 0.75  # one false positive allowed
    assert recall_at_fpr(labels, risks, 1.0) == 1.0


def test_recall_at_fpr_flags_ties_together():
    labels = [False, True, True]
    assert recall_at_fpr(labels, [0.5, 0.5, 0.5], 0.0) == 0.0


def test_confusion_table():
    table = confusion_table(["benign", "benign", "malicious"], ["safe", "suspicious", "malicious"])
    assert table == {"benign": {"safe": 1, "suspicious": 1}, "malicious": {"malicious": 1}}


def test_threshold_for_fpr_is_the_lowest_within_the_budget():
    from links_app.scanner.metrics import threshold_for_fpr

    labels = [False] * 10 + [True] * 3
    risks = [0.1] * 8 + [0.6, 0.9] + [0.95, 0.7, 0.2]
    assert threshold_for_fpr(labels, risks, 0.0) == 0.95  # above every benign risk
    assert threshold_for_fpr(labels, risks, 0.1) == 0.7  # one benign (0.9) may be flagged
    assert threshold_for_fpr(labels, risks, 0.2) == 0.2  # two benign allowed; 0.2 flags no more of them
    assert threshold_for_fpr(labels, risks, 1.0) == 0.1


def test_threshold_for_fpr_flags_ties_together():
    from links_app.scanner.metrics import threshold_for_fpr

    # the benign 0.9 ties with a malicious 0.9: flagging that one means flagging both
    assert threshold_for_fpr([False, True, True], [0.9, 0.9, 0.5], 0.0) > 0.9


def test_reliability_table_bands_count_and_compare():
    from links_app.scanner.metrics import reliability_table

    labels = [False, False, True, True, True]
    risks = [0.1, 0.2, 0.3, 0.8, 1.0]
    low, high = reliability_table(labels, risks, [0.0, 0.5, 1.0])
    assert (low["count"], low["malicious"], low["observed"]) == (3, 1, pytest.approx(1 / 3))
    assert low["mean_risk"] == pytest.approx(0.2)
    assert (high["count"], high["malicious"], high["observed"]) == (2, 2, 1.0)  # 1.0 is in the last band
