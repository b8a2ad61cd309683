"""Committed snapshots of every event type's schema, and the compatibility check over them.

Stored events keep the shape they were written with for ever, so a schema may
only change in ways that every stored event still fits, or under a new schema
version with an upcaster. Each app keeps one snapshot file per event type and
schema version in its `event_schemas/` folder (`community.post_created.v2.json`):
the JSON Schema pydantic derives from the type's model, and sample data of
that version. `manage.py check_event_schemas` compares the running code with
the snapshots:

- the current version's snapshot must match the model, or differ only in ways
  that widen what is accepted (an optional field added, a type or an enum
  widened); anything else (a field removed, renamed or newly required, a type
  or enum narrowed) is incompatible: it needs a new version and an upcaster;
- the samples of every older version, upcast through the type's upcasters,
  must validate as the current version.

Snapshots of versions older than the current one are history and are never
rewritten; `--write` records the current version's snapshot only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
from django.apps import apps

from .registry import EventType

SNAPSHOT_FOLDER = "event_schemas"
_STRING_LIMITS = frozenset({"format", "pattern", "minLength", "maxLength"})
_UPPER_LIMITS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")
_LOWER_LIMITS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
# Keys that document a schema without changing what it accepts.
_DOCUMENTATION_KEYS = frozenset({"title", "description", "examples"})


def snapshot_folder(event_type: EventType) -> Path | None:
    """The `event_schemas/` folder of the app that defines the type, or None outside any app."""
    app_config = apps.get_containing_app_config(event_type.schema.__module__)
    return None if app_config is None else Path(app_config.path) / SNAPSHOT_FOLDER


def snapshot_path(folder: Path, type_name: str, version: int) -> Path:
    return folder / f"{type_name.replace(':', '.')}.v{version}.json"


def json_schema(event_type: EventType) -> dict[str, Any]:
    return event_type.schema.model_json_schema()


# -- samples -----------------------------------------------------------------------------------


_SAMPLE_STRINGS = {
    "uuid": "00000000-0000-4000-8000-000000000001",
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "email": "person@example.com",
    "uri": "https://example.com/",
    "ipvanyaddress": "192.0.2.1",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}


def sample_data(schema: dict[str, Any], *, full: bool) -> Any:
    """Data that fits `schema`: every field (full) or the required ones only.

    A model that declares `examples` in its JSON Schema supplies its own
    samples instead (see `samples_for`); this covers the plain shapes event
    schemas use.
    """
    return _sample(schema, schema.get("$defs", {}), full)


def _sample(node: dict[str, Any], defs: dict[str, Any], full: bool) -> Any:
    if "$ref" in node:
        return _sample(defs[node["$ref"].rsplit("/", 1)[-1]], defs, full)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    for union in ("anyOf", "oneOf"):
        if union in node:
            options = [option for option in node[union] if option.get("type") != "null"]
            return _sample(options[0], defs, full) if options else None
    kind = node.get("type")
    if kind == "string":
        text = _SAMPLE_STRINGS.get(node.get("format", ""), "text")
        return text.ljust(node.get("minLength", 0), "x")
    if kind == "integer":
        return max(1, node.get("minimum", 1), node.get("exclusiveMinimum", 0) + 1)
    if kind == "number":
        return float(max(1, node.get("minimum", 1)))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array":
        count = max(1, node.get("minItems", 1))
        return [_sample(node.get("items", {"type": "string"}), defs, full) for _ in range(count)]
    if kind == "object":
        properties = node.get("properties", {})
        required = set(node.get("required", ()))
        data = {
            name: _sample(sub, defs, full) for name, sub in properties.items() if full or name in required
        }
        values = node.get("additionalProperties")
        if not properties and isinstance(values, dict):
            key_enum = node.get("propertyNames", {}).get("enum", ["key"])
            data[key_enum[0]] = _sample(values, defs, full)
        return data
    raise ValueError(
        f"no sample for schema node {node!r}: give the model `examples` in its json_schema_extra"
    )


def samples_for(event_type: EventType) -> list[dict[str, Any]]:
    """Sample data of the current version, each checked against the model."""
    schema = json_schema(event_type)
    candidates = schema.get("examples") or [sample_data(schema, full=True), sample_data(schema, full=False)]
    samples: list[dict[str, Any]] = []
    for candidate in candidates:
        event_type.validate(candidate)  # raises InvalidEventData: a sample must be valid data
        if candidate not in samples:
            samples.append(candidate)
    return samples


# -- compatibility ---------------------------------------------------------------------------------


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why data valid under `old` might not be valid under `new` (empty when it always is)."""
    problems: list[str] = []
    _compare(old, old.get("$defs", {}), new, new.get("$defs", {}), "data", problems)
    return problems


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _variants(node: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(node, defs)
    for union in ("anyOf", "oneOf"):
        if union in node:
            return [variant for option in node[union] for variant in _variants(option, defs)]
    return [node]


def _kind(node: dict[str, Any]) -> str:
    if "const" in node or "enum" in node:
        return "enum"
    return str(node.get("type", "any"))


def _compare(old, old_defs, new, new_defs, where: str, problems: list[str]) -> None:
    new_variants = _variants(new, new_defs)
    if any(_kind(variant) == "any" for variant in new_variants):
        return
    for old_variant in _variants(old, old_defs):
        kind = _kind(old_variant)
        matches = [variant for variant in new_variants if _kind(variant) == kind]
        if kind == "enum":
            _compare_enums(old_variant, new_variants, where, problems)
            continue
        if kind == "integer" and not matches:
            matches = [variant for variant in new_variants if _kind(variant) == "number"]
        if not matches:
            problems.append(f"{where}: {kind} is no longer accepted")
            continue
        _compare_same_kind(old_variant, old_defs, matches[0], new_defs, where, problems)


def _compare_enums(old_variant, new_variants, where: str, problems: list[str]) -> None:
    old_values = old_variant.get("enum", [old_variant.get("const")])
    new_values: set[Any] = set()
    for variant in new_variants:
        if _kind(variant) == "enum":
            new_values.update(variant.get("enum", [variant.get("const")]))
        elif variant.get("type") == "string" and not _STRING_LIMITS & variant.keys():
            return  # any string is accepted now
    dropped = [value for value in old_values if value not in new_values]
    if dropped:
        problems.append(f"{where}: values {dropped} are no longer accepted")


def _compare_same_kind(old, old_defs, new, new_defs, where: str, problems: list[str]) -> None:
    kind = _kind(old)
    for limit in ("format", "pattern"):
        if new.get(limit) is not None and new.get(limit) != old.get(limit):
            problems.append(f"{where}: {limit} {old.get(limit)!r} became {new.get(limit)!r}")
    for limit in _UPPER_LIMITS:
        if limit in new and (limit not in old or new[limit] < old[limit]):
            problems.append(f"{where}: {limit} lowered to {new[limit]}")
    for limit in _LOWER_LIMITS:
        if limit in new and (limit not in old or new[limit] > old[limit]):
            problems.append(f"{where}: {limit} raised to {new[limit]}")
    if kind == "array":
        _compare(old.get("items", {}), old_defs, new.get("items", {}), new_defs, f"{where}[]", problems)
    if kind != "object":
        return
    old_properties = old.get("properties", {})
    new_properties = new.get("properties", {})
    old_required = set(old.get("required", ()))
    for name in new.get("required", ()):
        if name not in old_required:
            problems.append(f"{where}.{name}: became required")
    for name, old_property in old_properties.items():
        if name not in new_properties:
            if new.get("additionalProperties") is False:
                problems.append(f"{where}.{name}: removed")
            continue
        _compare(old_property, old_defs, new_properties[name], new_defs, f"{where}.{name}", problems)
    old_values, new_values = old.get("additionalProperties"), new.get("additionalProperties")
    if isinstance(old_values, dict) and isinstance(new_values, dict):
        _compare(old_values, old_defs, new_values, new_defs, f"{where}{{}}", problems)
    elif old_values is not False and new_values is False and not old_properties:
        problems.append(f"{where}: free-form keys are no longer accepted")


def _without_documentation(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_documentation(v) for k, v in node.items() if k not in _DOCUMENTATION_KEYS}
    if isinstance(node, list):
        return [_without_documentation(item) for item in node]
    return node


# -- the check ----------------------------------------------------------------------------------------


@dataclass
class TypeReport:
    """What the check found for one event type: `problems` fail it, `outdated` asks for `--write`."""

    name: str
    version: int
    problems: list[str] = field(default_factory=list)
    outdated: bool = False
    missing: bool = False
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and not self.outdated and not self.missing


def load_snapshot(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def write_snapshot(path: Path, event_type: EventType) -> None:
    snapshot = {
        "type": event_type.name,
        "schema_version": event_type.version,
        "json_schema": json_schema(event_type),
        "samples": samples_for(event_type),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")


def check_type(event_type: EventType, folder: Path, *, write: bool = False) -> TypeReport:
    """Check one type against its snapshots in `folder`; with `write`, record the current version."""
    report = TypeReport(event_type.name, event_type.version)
    current_path = snapshot_path(folder, event_type.name, event_type.version)
    current_schema = json_schema(event_type)
    if current_path.exists():
        snapshot = load_snapshot(current_path)
        report.problems += incompatibilities(snapshot["json_schema"], current_schema)
        report.problems += _sample_problems(event_type, event_type.version, snapshot["samples"])
        if _without_documentation(snapshot["json_schema"]) != _without_documentation(current_schema):
            report.outdated = True
    else:
        report.missing = True
    for version in range(1, event_type.version):
        path = snapshot_path(folder, event_type.name, version)
        if not path.exists():
            report.problems.append(f"no snapshot of version {version}: its upcaster is untested")
            continue
        report.problems += _sample_problems(event_type, version, load_snapshot(path)["samples"])
    if write and not report.problems and (report.missing or report.outdated):
        write_snapshot(current_path, event_type)
        report.written, report.missing, report.outdated = True, False, False
    return report


def _sample_problems(event_type: EventType, version: int, samples: list[dict[str, Any]]) -> list[str]:
    problems = []
    for index, sample in enumerate(samples):
        try:
            event_type.schema.model_validate(event_type.upcast(version, dict(sample)))
        except pydantic.ValidationError as exc:
            summary = "; ".join(
                f"{'.'.join(map(str, error['loc'])) or 'data'}: {error['msg']}" for error in exc.errors()
            )
            problems.append(f"v{version} sample {index} does not read as v{event_type.version}: {summary}")
        except (KeyError, TypeError, ValueError) as exc:
            summary = f"the upcaster raised {type(exc).__name__}: {exc}"
            problems.append(f"v{version} sample {index} does not read as v{event_type.version}: {summary}")
    return problems
