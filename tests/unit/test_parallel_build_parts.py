"""Which inline projections a rebuild may build on separate connections (eventstore.parallel_build)."""

from eventstore.parallel_build import independent_parts
from eventstore.projections import ALL_TYPES, Projection


def handle(event):
    pass


def projection(name: str, *types: str) -> Projection:
    return Projection(name=name, handlers={t: handle for t in types}, models=[])


def names(parts) -> list[list[str]]:
    return [[p.name for p in part] for part in parts]


def test_projections_sharing_a_type_stay_in_one_part_and_the_others_go_beside_them():
    posts = projection("t.posts", "community:post_created", "community:comment_created")
    links = projection("t.links", "link:scan_completed")
    comments = projection("t.comments", "community:comment_created")
    logins = projection("t.logins", "auth:failed_login_attempt")
    parts = independent_parts([posts, links, comments, logins], jobs=2)
    assert names(parts) == [["t.posts", "t.comments"], ["t.links", "t.logins"]]


def test_sharing_is_transitive():
    a = projection("t.a", "community:post_flagged")
    b = projection("t.b", "community:post_flagged", "community:post_unflagged")
    c = projection("t.c", "community:post_unflagged")
    d = projection("t.d", "link:scan_failed")
    assert names(independent_parts([a, d, c, b], jobs=4)) == [["t.a", "t.c", "t.b"], ["t.d"]]


def test_never_more_parts_than_jobs_and_one_job_is_one_part():
    types = [
        "community:post_created",
        "community:post_deleted",
        "link:scan_requested",
        "link:scan_failed",
        "auth:failed_login_attempt",
    ]
    many = [projection(f"t.p{n}", t) for n, t in enumerate(types)]
    assert len(independent_parts(many, jobs=3)) == 3
    assert sorted(p.name for part in independent_parts(many, jobs=3) for p in part) == [p.name for p in many]
    assert names(independent_parts(many, jobs=1)) == [[p.name for p in many]]


def test_a_projection_of_every_type_keeps_all_of_them_together():
    every = projection("t.every", ALL_TYPES)
    others = [projection("t.x", "link:scan_requested"), projection("t.y", "community:post_deleted")]
    assert names(independent_parts([*others, every], jobs=2)) == [["t.x", "t.y", "t.every"]]


def test_a_type_few_logged_events_have_does_not_tie_projections_that_read_it():
    posts = projection("t.posts", "community:post_created", "user:forgotten")
    comments = projection("t.comments", "community:comment_created", "user:forgotten")
    counts = {"community:post_created": 5_000, "community:comment_created": 5_000, "user:forgotten": 3}
    assert names(independent_parts([posts, comments], jobs=2, counts=counts)) == [["t.posts"], ["t.comments"]]
    counts["user:forgotten"] = 500  # 5 % of what they read: worth one read
    assert names(independent_parts([posts, comments], jobs=2, counts=counts)) == [["t.posts", "t.comments"]]


def test_types_applied_by_a_statement_on_the_server_do_not_tie_projections():
    scores = Projection(
        name="t.scores",
        handlers={"community:post_created": handle, "community:post_voted": handle},
        models=[],
        apply_stored_sql="SELECT 1",
        stored_sql_types=("community:post_voted",),
    )
    votes = Projection(
        name="t.votes",
        handlers={"community:post_voted": handle},
        models=[],
        apply_stored_sql="SELECT 1",
        stored_sql_types=("community:post_voted",),
    )
    counts = {"community:post_created": 1_000, "community:post_voted": 50_000}
    assert names(independent_parts([scores, votes], jobs=2, counts=counts)) == [["t.scores"], ["t.votes"]]


def test_parts_are_balanced_by_the_events_they_read():
    heavy = projection("t.heavy", "community:comment_created")
    light = [
        projection("t.a", "link:scan_requested"),
        projection("t.b", "link:scan_completed"),
        projection("t.c", "auth:failed_login_attempt"),
    ]
    counts = {
        "community:comment_created": 40_000,
        "link:scan_requested": 10_000,
        "link:scan_completed": 10_000,
        "auth:failed_login_attempt": 5_000,
    }
    parts = independent_parts([*light, heavy], jobs=2, counts=counts)
    assert names(parts) == [["t.heavy"], ["t.a", "t.b", "t.c"]]
