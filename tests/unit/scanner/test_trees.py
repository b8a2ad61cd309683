import math

import pytest

from links_app.scanner.model import LEXICAL_SHARE, STACKED_FEATURES, TREE_INPUTS, LexicalModel, lexical_parts
from links_app.scanner.normalize import normalize_parts
from links_app.scanner.rules import run_rules
from links_app.scanner.site_evidence import EVIDENCE_FEATURES, EVIDENCE_PARTS, evidence_tokens, site_key
from links_app.scanner.structure import STRUCTURE_FEATURES, site_label, structure_features, suffix_key
from links_app.scanner.trees import Tree, TreeEnsemble
from links_app.scanner.urlview import UrlView

# x[0] <= 2.5 ? (x[1] <= 0.5 ? -1.0 : 0.5) : 2.0
HAND_TREE = {
    "feature": [0, 1, -1, -1, -1],
    "threshold": [2.5, 0.5, 0, 0, 0],
    "left": [1, 2, -1, -1, -1],
    "right": [4, 3, -1, -1, -1],
    "value": [0, 0, -1.0, 0.5, 2.0],
}


@pytest.mark.parametrize(
    ("x", "leaf"),
    [([1.0, 0.0], -1.0), ([2.5, 0.5], -1.0), ([2.0, 0.7], 0.5), ([2.6, 0.0], 2.0), ([9.0, 9.0], 2.0)],
)
def test_tree_walks_left_when_value_is_at_most_the_threshold(x, leaf):
    assert Tree(HAND_TREE).leaf_value(x) == leaf


def test_ensemble_adds_base_and_every_tree():
    stump = {
        "feature": [1, -1, -1],
        "threshold": [0.0, 0, 0],
        "left": [1, -1, -1],
        "right": [2, -1, -1],
        "value": [0, -0.25, 0.25],
    }
    ensemble = TreeEnsemble({"base": 0.1, "trees": [HAND_TREE, stump]})
    assert ensemble.log_odds([3.0, 1.0]) == pytest.approx(0.1 + 2.0 + 0.25)
    assert ensemble.log_odds([0.0, 0.0]) == pytest.approx(0.1 - 1.0 - 0.25)
    assert ensemble.log_odds([0.0, 0.0]) == pytest.approx(
        0.1 + sum(Tree(t).leaf_value([0.0, 0.0]) for t in (HAND_TREE, stump))
    )


def test_tree_rejects_ragged_lists():
    with pytest.raises(ValueError, match="same length"):
        Tree({**HAND_TREE, "value": [0.0]})


_EMPTY_EVIDENCE = {"malicious_sites": 1, "benign_sites": 1, "llr": {}}


def _tiny_model(
    trees: dict | None, suffix_risk: dict | None = None, site_evidence: dict | None = None
) -> LexicalModel:
    from links_app.scanner.features import NUMERIC_FEATURES

    width = len(NUMERIC_FEATURES)
    return LexicalModel(
        {
            "bias": -1.0,
            "token_weights": {"h:abc": 3.0, "p:xyz": -0.5, "rule:long_url": 0.25},
            "numeric_features": list(NUMERIC_FEATURES),
            "numeric_means": [0.0] * width,
            "numeric_scales": [1.0] * width,
            "numeric_weights": [0.0] * width,
            "trees": trees,
            "suffix_risk": suffix_risk or {"prior": 0.5, "by_suffix": {}},
            "site_evidence": site_evidence or {part: _EMPTY_EVIDENCE for part in EVIDENCE_PARTS},
        }
    )


def test_model_blends_lexical_and_tree_log_odds():
    # One stump on the last input, the lexical log-odds (here -1 + 3 = 2).
    last = len(TREE_INPUTS) - 1
    stump = {
        "feature": [last, -1, -1],
        "threshold": [1.0, 0, 0],
        "left": [1, -1, -1],
        "right": [2, -1, -1],
        "value": [0, -4.0, 4.0],
    }
    model = _tiny_model({"features": list(TREE_INPUTS), "base": 0.0, "trees": [stump]})
    numbers = [0.0] * len(model.numeric_weights)
    structure = [0.0] * len(STRUCTURE_FEATURES)
    lexical_only = model.score({"h:abc"}, numbers)
    blended = model.score({"h:abc"}, numbers, structure)
    expected_logit = LEXICAL_SHARE * 2.0 + (1 - LEXICAL_SHARE) * 4.0
    assert lexical_only.probability == pytest.approx(1 / (1 + 2.718281828459045**-2.0))
    assert blended.probability == pytest.approx(1 / (1 + 2.718281828459045**-expected_logit))
    assert blended.top_features == (("h:abc", 3.0),)


def test_trees_see_the_suffix_risk_from_the_model_table_and_the_prior_for_unseen_suffixes():
    suffix_input = TREE_INPUTS.index("suffix_risk")
    assert TREE_INPUTS[len(STRUCTURE_FEATURES)] == "suffix_risk"
    assert TREE_INPUTS[-len(STACKED_FEATURES) :] == STACKED_FEATURES
    stump = {
        "feature": [suffix_input, -1, -1],
        "threshold": [0.5, 0, 0],
        "left": [1, -1, -1],
        "right": [2, -1, -1],
        "value": [0, -4.0, 4.0],
    }
    model = _tiny_model(
        {"features": list(TREE_INPUTS), "base": 0.0, "trees": [stump]},
        {"prior": 0.4, "by_suffix": {"tk": 0.9, "org": 0.1}},
    )
    numbers = [0.0] * len(model.numeric_weights)
    structure = [0.0] * len(STRUCTURE_FEATURES)

    def logit(suffix: str) -> float:
        p = model.score({"h:abc"}, numbers, structure, suffix).probability
        return math.log(p / (1 - p))

    lexical = 2.0  # bias -1 + h:abc 3
    assert logit("tk") == pytest.approx(LEXICAL_SHARE * lexical + (1 - LEXICAL_SHARE) * 4.0)
    assert logit("org") == pytest.approx(LEXICAL_SHARE * lexical - (1 - LEXICAL_SHARE) * 4.0)
    assert logit("never-seen") == pytest.approx(logit("org"))  # prior 0.4 <= 0.5


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://a.example.co.uk/x", "co.uk"),
        ("http://203.0.113.9/login", "ip"),
        ("http://alice.github.io/", "io"),
        ("http://intranet/", "none"),
    ],
)
def test_suffix_key_is_the_icann_suffix_or_a_word_for_hosts_without_one(url, key):
    assert suffix_key(UrlView(normalize_parts(url), url)) == key


def test_lexical_parts_split_the_weights_into_host_and_path_tokens():
    contributions = [("h:abc", 3.0), ("hw:login", 1.0), ("tld:tk", 0.5), ("p:xyz", -0.5), ("pw:id", 0.25)]
    contributions.append(("rule:long_url", 2.0))  # neither host nor path: only in the whole log-odds
    assert lexical_parts(contributions) == (4.5, -0.25)


def test_trees_see_the_host_part_of_the_lexical_log_odds():
    # A stump on lexical_host: the host token h:abc (+3) sends it right, the path token does not count.
    host_input = TREE_INPUTS.index("lexical_host")
    stump = {
        "feature": [host_input, -1, -1],
        "threshold": [1.0, 0, 0],
        "left": [1, -1, -1],
        "right": [2, -1, -1],
        "value": [0, -4.0, 4.0],
    }
    model = _tiny_model({"features": list(TREE_INPUTS), "base": 0.0, "trees": [stump]})
    numbers = [0.0] * len(model.numeric_weights)
    structure = [0.0] * len(STRUCTURE_FEATURES)
    host_only = model.score({"h:abc"}, numbers, structure)  # lexical -1 + 3 = 2, host part 3 > 1
    path_only = model.score({"p:xyz"}, numbers, structure)  # lexical -1.5, host part 0
    assert host_only.probability == pytest.approx(
        1 / (1 + 2.718281828459045 ** -(LEXICAL_SHARE * 2.0 + (1 - LEXICAL_SHARE) * 4.0))
    )
    assert path_only.probability == pytest.approx(
        1 / (1 + 2.718281828459045 ** -(LEXICAL_SHARE * -1.5 - (1 - LEXICAL_SHARE) * 4.0))
    )


def test_model_refuses_trees_trained_on_other_structure_features():
    with pytest.raises(ValueError, match="structure features"):
        _tiny_model({"features": ["something_else"], "base": 0.0, "trees": []})


def test_model_refuses_trees_without_a_suffix_risk_table():
    from links_app.scanner.features import NUMERIC_FEATURES

    width = len(NUMERIC_FEATURES)
    with pytest.raises(ValueError, match="suffix_risk"):
        LexicalModel(
            {
                "bias": 0.0,
                "token_weights": {},
                "numeric_features": list(NUMERIC_FEATURES),
                "numeric_means": [0.0] * width,
                "numeric_scales": [1.0] * width,
                "numeric_weights": [0.0] * width,
                "trees": {"features": list(TREE_INPUTS), "base": 0.0, "trees": []},
            }
        )


def test_structure_features_match_their_names_and_see_brands_and_shape():
    url = "http://paypal.secure-login.example.tk/a/b/verify.php?x=1&y=2"
    view = UrlView(normalize_parts(url), url)
    values = dict(zip(STRUCTURE_FEATURES, structure_features(view, run_rules(view)), strict=True))
    assert len(values) == len(STRUCTURE_FEATURES)
    assert values["subdomains"] == 2 and values["host_hyphens"] == 1
    assert values["path_depth"] == 2 and values["query_params"] == 2
    assert values["brand_in_host"] == 1 and values["tld_class"] == 3
    assert values["extension_class"] == 1 and values["credential_words"] >= 3
    assert values["findings_high"] >= 1
    assert values["site_label_length"] == len("example")
    assert values["subdomain_length"] == len("paypal.secure-login")
    assert values["path_words"] == 6 and values["query_longest_value"] == 1


def test_site_label_counts_describe_the_user_site_on_a_hosting_platform():
    url = "https://secure-acc0unt-22.blogspot.com/p/login.html?next=http%3A%2F%2Fexample.com"
    view = UrlView(normalize_parts(url), url)
    values = dict(zip(STRUCTURE_FEATURES, structure_features(view, run_rules(view)), strict=True))
    assert values["hosting_platform"] == 1
    assert values["site_label_length"] == len("secure-acc0unt-22")  # not "blogspot"
    assert values["site_label_digits"] == 3 and values["site_label_hyphens"] == 2
    assert values["embedded_scheme"] == 1 and values["path_percent"] == 3
    assert values["host_letter_digit_switches"] == 2


@pytest.mark.parametrize(
    ("url", "label", "site"),
    [
        (
            "https://sites.google.com/view/secure-acc0unt/home",
            "secure-acc0unt",
            "sites.google.com/secure-acc0unt",
        ),
        ("https://sites.google.com/site/alice/", "alice", "sites.google.com/alice"),
        (
            "https://storage.cloud.google.com/user51749.appspot.com/index.html",
            "user51749",
            "storage.cloud.google.com/user51749.appspot.com",
        ),
        # the path names no site there: the registered domain is the site
        ("https://sites.google.com/a/example.edu/x/", "google", "google.com"),
        ("https://docs.google.com/forms/d/e/1FAIpQLSf/viewform", "google", "google.com"),
        ("https://storage.cloud.google.com/", "google", "google.com"),
    ],
)
def test_a_site_named_in_the_path_of_a_user_content_host_is_a_site_of_its_own(url, label, site):
    view = UrlView(normalize_parts(url), url)
    assert site_label(view) == label
    assert site_key(view) == site
    values = dict(zip(STRUCTURE_FEATURES, structure_features(view, run_rules(view)), strict=True))
    assert values["site_label_length"] == len(label)
    grams, _ = evidence_tokens(view)
    assert f"{label[-2:]}$" in grams


def test_compiled_trees_match_the_walk_on_the_shipped_model():
    from links_app.scanner.model import load_model

    ensemble = load_model().trees
    assert ensemble is not None and ensemble._compiled is not None
    urls = ["http://example.com/", "http://paypal-secure-login.example.tk/verify/account.php?id=12345"]
    for url in urls:
        view = UrlView(normalize_parts(url), url)
        # suffix risk, site evidence, host part, path part, log-odds
        evidence = [0.2, 1.1, 0.5, -0.3, 0.4, 0.0]
        x = [*structure_features(view, run_rules(view)), 0.3, *evidence, 0.5, 1.0, 1.5]
        assert ensemble.log_odds(x) == pytest.approx(ensemble.walk(x), abs=1e-12)


def test_too_deep_trees_fall_back_to_the_walk():
    # A chain of 30 splits on x[0]: node 2i splits at i, its left child 2i+1 is a leaf worth i.
    depth = 30
    size = 2 * depth + 1
    feature, threshold, left, right, value = [-1] * size, [0.0] * size, [-1] * size, [-1] * size, [0.0] * size
    for i in range(depth):
        split, leaf = 2 * i, 2 * i + 1
        feature[split], threshold[split], left[split], right[split] = 0, float(i), leaf, split + 2
        value[leaf] = float(i)
    value[size - 1] = 99.0
    tree = {"feature": feature, "threshold": threshold, "left": left, "right": right, "value": value}
    ensemble = TreeEnsemble({"base": 0.0, "trees": [tree]})
    assert ensemble._compiled is None
    assert ensemble.log_odds([2.5]) == 3.0
    assert ensemble.log_odds([100.0]) == 99.0


def test_model_refuses_trees_without_site_evidence_tables():
    model_data = {
        "features": list(TREE_INPUTS),
        "base": 0.0,
        "trees": [],
    }
    with pytest.raises(ValueError, match="site_evidence"):
        _tiny_model(model_data, site_evidence={"label_grams": _EMPTY_EVIDENCE})


def test_evidence_tokens_are_the_site_labels_trigrams_and_the_path_words():
    url = "https://holigan-bet1.blogspot.com/2019/01/giris.html?x=Bet"
    grams, words = evidence_tokens(UrlView(normalize_parts(url), url))
    label = "^holigan-bet1$"  # the user's site, not "blogspot"
    assert grams == {label[i : i + 3] for i in range(len(label) - 2)}
    assert words == {"2019", "01", "giris", "html", "x", "bet"}


def test_trees_see_the_site_evidence_mean_largest_and_unseen_share():
    # 3 malicious and 5 benign sites in "training"; "bet" on 2 malicious sites, "doc" on 4 benign.
    path_table = {"malicious_sites": 3, "benign_sites": 5, "llr": {"bet": 1.2, "doc": -0.9}}
    model = _tiny_model(
        {"features": list(TREE_INPUTS), "base": 0.0, "trees": []},
        site_evidence={"label_grams": _EMPTY_EVIDENCE, "path_words": path_table},
    )
    mean, largest, unseen = model.evidence[1].values(frozenset({"bet", "doc", "never"}))
    never = math.log(0.5 / 4) - math.log(0.5 / 6)
    assert mean == pytest.approx((1.2 - 0.9 + never) / 3)
    assert largest == pytest.approx(1.2) and unseen == pytest.approx(1 / 3)
    assert model.evidence[1].values(frozenset()) == (0.0, 0.0, 0.0)
    # the trees receive them after the suffix risk, in EVIDENCE_FEATURES order
    start = TREE_INPUTS.index("suffix_risk") + 1
    assert TREE_INPUTS[start : start + len(EVIDENCE_FEATURES)] == EVIDENCE_FEATURES
    stump = {
        "feature": [TREE_INPUTS.index("path_word_llr_max"), -1, -1],
        "threshold": [1.0, 0, 0],
        "left": [1, -1, -1],
        "right": [2, -1, -1],
        "value": [0, -4.0, 4.0],
    }
    model.trees = TreeEnsemble({"base": 0.0, "trees": [stump]})
    numbers = [0.0] * len(model.numeric_weights)
    structure = [0.0] * len(STRUCTURE_FEATURES)

    def logit(words: set[str]) -> float:
        p = model.score({"h:abc"}, numbers, structure, "com", (frozenset(), frozenset(words))).probability
        return math.log(p / (1 - p))

    assert logit({"bet"}) == pytest.approx(LEXICAL_SHARE * 2.0 + (1 - LEXICAL_SHARE) * 4.0)
    assert logit({"doc"}) == pytest.approx(LEXICAL_SHARE * 2.0 - (1 - LEXICAL_SHARE) * 4.0)
