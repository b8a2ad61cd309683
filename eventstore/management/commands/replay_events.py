"""python manage.py replay_events: rebuild projections from the Postgres log alone."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from eventstore import parallel_build, partitions, projection_versions
from eventstore.archive import source as archive_source
from eventstore.errors import ArchiveInvalid, ShadowInUse, SwapWouldLose
from eventstore.projection_diff import TableDiff, check_projections
from eventstore.projections import registered_projections
from eventstore.replay import REBUILD_BATCH_SIZE, rebuild_projections


def _expected_reads(projections, jobs: int) -> int:
    """Events the replay will read: once per group it builds in one pass (eventstore.parallel_build.plan;
    on one connection, the inline projections together and each async one)."""
    by_type = partitions.count_events_by_type()  # one pass over the log for every group

    def reads(group) -> int:
        if any(p.event_types is None for p in group):
            return sum(by_type.values())
        return sum(by_type.get(t, 0) for t in {t for p in group for t in p.event_types})

    return sum(reads(group) for group in parallel_build.plan(projections, jobs))


def describe_difference(diff: TableDiff) -> str:
    """One line per table: 'identical', or the counts of each kind of difference with examples."""
    if diff.identical:
        return "identical"
    parts = []
    for kind, label in (
        ("only_live", "only live"),
        ("only_rebuilt", "only rebuilt"),
        ("differing", "differ"),
    ):
        count = getattr(diff, kind)
        if count:
            examples = "; ".join(diff.examples.get(kind, []))
            parts.append(f"{count} row(s) {label} (e.g. {examples})")
    return "DRIFT: " + ", ".join(parts)


class Command(BaseCommand):
    help = (
        "Rebuild projections from the event log (all by default), blue/green: built beside the live "
        "tables and swapped in by one short transaction, so readers and writers keep working "
        "(see docs/eventstore.md). --dry-run compares a rebuild with the live tables and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--projection",
            action="append",
            dest="projections",
            metavar="NAME",
            help="rebuild only this projection (repeatable); --list shows the names",
        )
        parser.add_argument(
            "--outdated",
            action="store_true",
            help="rebuild only the projections whose version changed since their tables were built (release step)",
        )
        parser.add_argument("--list", action="store_true", help="list the projections and exit")
        parser.add_argument("--dry-run", action="store_true", help="report differences, change nothing")
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="do not ask for confirmation",
        )
        parser.add_argument("--batch-size", type=int, default=REBUILD_BATCH_SIZE)
        parser.add_argument(
            "--jobs",
            type=int,
            default=None,
            metavar="N",
            help="connections the projections are built on at once, in groups that read different events "
            "(default: the REBUILD_JOBS setting, 2; 1 builds on one connection)",
        )
        parser.add_argument(
            "--archive",
            type=Path,
            metavar="DIR",
            help="replay the events archived in DIR (manage.py archive_events) before the live log",
        )

    def handle(
        self,
        *args,
        projections=None,
        outdated=False,
        list=False,
        dry_run=False,
        interactive=True,
        batch_size=REBUILD_BATCH_SIZE,
        archive=None,
        **options,
    ):
        available = registered_projections()
        if list:
            for name, projection in sorted(available.items()):
                self.stdout.write(f"{name}\t{projection.mode}\t{projection.description}")
            return
        unknown = sorted(set(projections or []) - set(available))
        if unknown:
            raise CommandError(
                f"unknown projection(s): {', '.join(unknown)}; known: {', '.join(sorted(available))}"
            )
        if options["jobs"] is not None and options["jobs"] < 1:
            raise CommandError("--jobs must be 1 or more")
        if outdated and projections:
            raise CommandError("--outdated chooses the projections itself; give it without --projection")
        if outdated:
            chosen = projection_versions.outdated()
            if not chosen:
                self.stdout.write(
                    "Every projection's tables were built by its current version: nothing to rebuild."
                )
                return
            self.stdout.write("Outdated: " + ", ".join(f"{p.name} (v{p.version})" for p in chosen))
        else:
            chosen = [available[name] for name in (projections or sorted(available))]
        if interactive and not dry_run:
            answer = input(f"Rebuild {len(chosen)} projection(s) from the log? Type 'yes' to continue: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Replay cancelled.")
        with contextlib.ExitStack() as reading:
            try:
                reading.enter_context(archive_source.whole_log(archive))
            except ArchiveInvalid as exc:
                raise CommandError(f"--archive {archive}: {exc}" if archive else str(exc)) from exc
            self._replay(chosen, dry_run, batch_size, options)

    def _replay(self, chosen, dry_run: bool, batch_size: int, options) -> None:
        jobs = settings.REBUILD_JOBS if options["jobs"] is None else options["jobs"]
        total, started = 0, time.perf_counter()
        bar = tqdm(
            total=_expected_reads(chosen, 1 if dry_run else jobs),
            desc="replay" if not dry_run else "dry run",
            unit="ev",
            disable=options["verbosity"] == 0,
            file=self.stderr._out,
        )
        with bar:
            try:
                total, applied_by_name = self._run(chosen, dry_run, batch_size, bar, jobs)
            except (ShadowInUse, SwapWouldLose) as exc:
                raise CommandError(str(exc)) from exc
        if not dry_run and options["verbosity"] > 1:
            for name, applied in sorted(applied_by_name.items()):
                self.stdout.write(f"  {name}: {applied} events")
        elapsed = time.perf_counter() - started
        rate = total / elapsed if elapsed > 0 else 0.0
        verb = "Checked" if dry_run else "Replayed"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {total} events into {len(chosen)} projection(s) in {elapsed:.2f} s ({rate:,.0f} events/s)."
            )
        )

    def _run(self, chosen, dry_run: bool, batch_size: int, bar, jobs: int) -> tuple[int, dict[str, int]]:
        if not dry_run:
            # Projections reading the same events share one pass over the log (see rebuild_projections).
            applied_by_name = rebuild_projections(
                chosen, batch_size=batch_size, progress=bar.update, jobs=jobs
            )
            return sum(applied_by_name.values()), applied_by_name
        results = check_projections(chosen, batch_size=batch_size, progress=bar.update)
        for name, (_applied, differences) in results.items():
            self.stdout.write(f"{name}:")
            for table, diff in differences.items():
                self.stdout.write(f"  {table}: {describe_difference(diff)}")
        return sum(applied for applied, _ in results.values()), {}
