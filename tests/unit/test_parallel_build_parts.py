"""Which projections a rebuild builds apart, on separate connections, and in what order (eventstore.parallel_build)."""

from eventstore.parallel_build import plan
from eventstore.projections import ALL_TYPES, ASYNC, Projection


def handle(event):
    pass


def projection(name: str, *types: str, **options) -> Projection:
    return Projection(name=name, handlers={t: handle for t in types}, models=[], **options)


def names(groups) -> list[list[str]]:
    return [[p.name for p in group] for group in groups]


def test_projections_sharing_a_type_are_built_together_and_the_heaviest_group_comes_first():
    posts = projection("t.posts", "community:post_created", "community:comment_created")
    links = projection("t.links", "link:scan_completed")
    comments = projection("t.comments", "community:comment_created")
    logins = projection("t.logins", "auth:failed_login_attempt")
    groups = plan([posts, links, comments, logins], jobs=2, counts={})
    assert names(groups) == [["t.posts", "t.comments"], ["t.links"], ["t.logins"]]


def test_sharing_is_transitive():
    a = projection("t.a", "community:post_flagged")
    b = projection("t.b", "community:post_flagged", "community:post_unflagged")
    c = projection("t.c", "community:post_unflagged")
    d = projection("t.d", "link:scan_failed")
    assert names(plan([a, d, c, b], jobs=4, counts={})) == [["t.a", "t.c", "t.b"], ["t.d"]]


def test_one_job_builds_the_inline_projections_in_one_pass_then_each_async_one():
    x = projection("t.x", "link:scan_requested")
    stats = projection("t.stats", ALL_TYPES, mode=ASYNC)
    y = projection("t.y", "community:post_deleted")
    assert names(plan([x, stats, y], jobs=1, counts={})) == [["t.x", "t.y"], ["t.stats"]]
    assert names(plan([x, stats, y], jobs=2, counts={})) == [["t.x"], ["t.y"], ["t.stats"]]


def test_an_inline_projection_of_every_type_keeps_the_inline_ones_together():
    every = projection("t.every", ALL_TYPES)
    others = [projection("t.x", "link:scan_requested"), projection("t.y", "community:post_deleted")]
    assert names(plan([*others, every], jobs=2, counts={})) == [["t.x", "t.y", "t.every"]]


def test_a_type_few_logged_events_have_does_not_tie_projections_that_read_it():
    posts = projection("t.posts", "community:post_created", "user:forgotten")
    comments = projection("t.comments", "community:comment_created", "user:forgotten")
    counts = {"community:post_created": 5_000, "community:comment_created": 6_000, "user:forgotten": 3}
    assert names(plan([posts, comments], jobs=2, counts=counts)) == [["t.comments"], ["t.posts"]]
    counts["user:forgotten"] = 500  # 5 % of what they read: worth one read
    assert names(plan([posts, comments], jobs=2, counts=counts)) == [["t.posts", "t.comments"]]


def test_types_applied_by_a_statement_on_the_server_do_not_tie_projections():
    scores = projection(
        "t.scores",
        "community:post_created",
        "community:post_voted",
        apply_stored_sql="SELECT 1",
        stored_sql_types=("community:post_voted",),
    )
    votes = projection(
        "t.votes",
        "community:post_voted",
        apply_stored_sql="SELECT 1",
        stored_sql_types=("community:post_voted",),
    )
    counts = {"community:post_created": 1_000, "community:post_voted": 50_000}
    # Weighed: 1,000 read plus a quarter of 50,000 applied on the server, against that quarter alone.
    assert names(plan([votes, scores], jobs=2, counts=counts)) == [["t.scores"], ["t.votes"]]


def test_groups_are_ordered_by_the_events_they_read_and_apply():
    light = projection("t.light", "link:scan_requested")
    heavy = projection("t.heavy", "community:comment_created")
    stats = projection("t.stats", ALL_TYPES, mode=ASYNC, apply_stored_sql="SELECT 1")
    counts = {"community:comment_created": 40_000, "link:scan_requested": 10_000, "user:forgotten": 10}
    # The statistics apply all 50,010 events on the server: a quarter of that weighs 12,502.
    assert names(plan([light, stats, heavy], jobs=2, counts=counts)) == [
        ["t.heavy"],
        ["t.stats"],
        ["t.light"],
    ]
