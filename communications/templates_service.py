"""A practice's letter wording: its saved template for a kind, or the shipped default."""

from django.db import transaction

from practices.models import Practice

from .default_letters import default_letter
from .models import LetterKind, LetterTemplate
from .sandbox import TemplateRefused, validate_template


def template_for(practice: Practice, kind: str) -> tuple[str, str]:
    """(subject, body) of the practice's letter of ``kind``."""
    saved = LetterTemplate.objects.filter(practice=practice, kind=kind).first()
    if saved is not None:
        return saved.subject, saved.body
    default = default_letter(kind)
    return default.subject, default.body


def customised_kinds(practice: Practice) -> set[str]:
    """The kinds for which the practice has saved its own wording."""
    return set(LetterTemplate.objects.filter(practice=practice).values_list("kind", flat=True))


@transaction.atomic
def save_template(practice: Practice, kind: str, subject: str, body: str, *, by) -> LetterTemplate:
    """Store the practice's wording for ``kind``; refuses a template that does not check."""
    errors = validate_template(subject, body)
    if errors:
        raise TemplateRefused(errors)
    template, _ = LetterTemplate.objects.update_or_create(
        practice=practice,
        kind=LetterKind(kind),
        defaults={"subject": subject.strip(), "body": body, "updated_by": by},
    )
    return template


@transaction.atomic
def reset_template(practice: Practice, kind: str) -> None:
    """Back to the shipped default wording for ``kind``."""
    LetterTemplate.objects.filter(practice=practice, kind=LetterKind(kind)).delete()
