"""Saved mappings: the practice's own presets (ImportPreset) and the ones shipped with the
product (``builtin_presets/*.json``: {"name", "description", "header", "mapping"}).

A file is offered a preset by its header NAMES, not their order: the practice's own preset
whose header is exactly the file's set of names first, then a built-in one all of whose
headers are present in the file (exports add columns and shuffle them).
"""

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.db import transaction

from ..models import ImportPreset
from . import dates
from .headers import header_key
from .mapping import DATE_TARGETS, Mapping, MappingProblem

BUILTIN_DIR = Path(__file__).with_name("builtin_presets")


@dataclass(frozen=True)
class BuiltinPreset:
    name: str
    description: str
    header: tuple[str, ...]
    mapping: dict

    builtin = True


def header_signature(header: list[str]) -> str:
    names = sorted({header_key(h) for h in header})
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


@cache
def builtin_presets() -> tuple[BuiltinPreset, ...]:
    """The presets shipped in builtin_presets/ (read once). A broken file is a bug of
    ours: it raises with the file's name."""
    found = []
    for path in sorted(BUILTIN_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            Mapping.from_json(data["mapping"])
        except (KeyError, MappingProblem) as exc:
            raise MappingProblem(f"{path.name}: {exc}") from exc
        found.append(
            BuiltinPreset(
                name=data["name"],
                description=data.get("description", ""),
                header=tuple(data["header"]),
                mapping=data["mapping"],
            )
        )
    return tuple(found)


def builtin(name: str) -> BuiltinPreset | None:
    return next((p for p in builtin_presets() if p.name == name), None)


def find_for(practice_headers: list[str]) -> ImportPreset | BuiltinPreset | None:
    """The preset to offer for a file with these headers (in the practice's scope)."""
    own = ImportPreset.objects.filter(header_signature=header_signature(practice_headers))
    preset = own.order_by("-updated_at").first()
    if preset is not None:
        return preset
    present = {header_key(h) for h in practice_headers}
    for candidate in builtin_presets():
        if {header_key(h) for h in candidate.header} <= present:
            return candidate
    return None


def by_name(name: str) -> ImportPreset | BuiltinPreset | None:
    """The practice's preset of that name, else the built-in one."""
    return ImportPreset.objects.filter(name=name).first() or builtin(name)


def save_preset(practice, name: str, header: list[str], mapping: Mapping, user) -> ImportPreset:
    """Keep a confirmed mapping under a name (the same name: updated)."""
    with transaction.atomic():
        preset, _created = ImportPreset.objects.update_or_create(
            practice=practice,
            name=name.strip()[:100],
            defaults={
                "header": list(header),
                "header_signature": header_signature(header),
                "mapping": mapping.to_json(),
                "created_by": user,
            },
        )
    return preset


def mapping_for(
    preset: ImportPreset | BuiltinPreset,
    header: list[str],
    samples: dict[str, list[str]] | None = None,
) -> Mapping:
    """The preset's mapping for this file: its columns matched to the file's by name (a
    real export may spell the case or spacing of a header differently, or order it
    differently), and its date format checked against the file's sample dates."""
    mapping = Mapping.from_json(preset.mapping)
    by_key = {header_key(h): h for h in header}

    def rename(columns: dict[str, str]) -> dict[str, str]:
        return {by_key.get(header_key(h), h): v for h, v in columns.items()}

    mapping.columns = rename(mapping.columns)
    mapping.splits = rename(mapping.splits)
    if samples:
        mapping.date_format = _date_format_for(mapping, samples)
    return mapping


def _date_format_for(mapping: Mapping, samples: dict[str, list[str]]) -> str:
    # The same PMS report comes out ISO or MM/DD/YYYY depending on how the grid was
    # exported (Open Dental follows the workstation's locale), so the preset's format is
    # a default, not a promise. An ambiguous sample (01/02/2024) keeps a preset that
    # already says day-first or month-first.
    values = [
        v for h, t in mapping.columns.items() if t in DATE_TARGETS for v in samples.get(h, [])
    ]
    found, ambiguous = dates.detect(values)
    if found is None or found == mapping.date_format:
        return mapping.date_format
    if ambiguous and mapping.date_format in (dates.DateFormat.MDY, dates.DateFormat.DMY):
        return mapping.date_format
    return found
