"""The sandbox in which a practice's letter templates are checked and rendered.

A letter template is written by a practice administrator, stored in the database and
rendered by a worker. It must not be a way into the server: no access to attributes
beyond the prepared letter variables, no tags that reach the database, the file system
or other templates, no loops, and only a few harmless filters.

How: a separate Django template ``Engine`` whose only built-in library is ``register``
below — ``{% if %}`` and a whitelist of filters. Every other tag (``load``, ``include``,
``extends``, ``url``, ``csrf_token``, ``debug``, ``for``, ``now``, ...) does not exist in
it, so a template using one fails to parse. After parsing, a walk over the tree checks
that every variable is one of :data:`LETTER_VARIABLES`. The context holds only plain
strings (dates are :class:`LetterDate`, a ``str``), never model instances, so even a
lookup that slipped through could not reach a method or a query. Autoescape is on and
the template's own text is escaped too (the body is plain text, not HTML).

Django's language rather than Jinja2's sandbox: it is the template language of the
rest of the product, needs no new dependency, and Django's variable syntax has no
calls, arithmetic or ranges to police; Jinja2 would still need the same tree walk to
report unknown variables at save time.
"""

import datetime as dt
import re
from difflib import get_close_matches
from functools import lru_cache

from django.template import Context, Engine, Library, Template, TemplateSyntaxError
from django.template.base import (
    FilterExpression,
    Lexer,
    Parser,
    TextNode,
    TokenType,
    VariableNode,
)
from django.template.defaultfilters import (
    capfirst,
    default,
    linebreaksbr,
    lower,
    title,
    upper,
)
from django.template.defaulttags import IfNode, TemplateLiteral, do_if
from django.utils import dateformat
from django.utils.html import escape

# Everything a letter template may use, with what it means (shown in the editor).
LETTER_VARIABLES: dict[str, str] = {
    "patient.first_name": "Patient's first name",
    "patient.last_name": "Patient's last name",
    "patient.name": "Patient's full name",
    "patient.initials": "Patient's initials",
    "patient.date_of_birth": "Patient's date of birth",
    "provider.name": "Referring doctor, e.g. 'Dr. Jane Smith' (empty if none named)",
    "provider.first_name": "Referring doctor's first name",
    "provider.last_name": "Referring doctor's last name",
    "recipient.name": "Who the letter is addressed to (doctor or office)",
    "recipient.salutation": "'Dr. Smith', or 'Doctor' when no doctor is named",
    "office.name": "Referring office",
    "office.address": "Referring office's address, one line",
    "office.phone": "Referring office's phone",
    "surgeon.name": "Signing surgeon's name",
    "surgeon.last_name": "Signing surgeon's last name",
    "surgeon.credentials": "Signing surgeon's credentials, e.g. 'DDS, MD'",
    "practice.name": "Our practice's name",
    "practice.phone": "Our practice's phone",
    "practice.address": "Our practice's address",
    "referral.received_on": "Date the referral was received",
    "referral.case_type": "Case type, e.g. 'Third molars'",
    "referral.reason": "Reason for the referral, as the GP wrote it",
    "referral.urgency": "Urgency, e.g. 'Routine'",
    "appointment.date": "Date of the booked appointment (consult or surgery)",
    "appointment.time": "Time of the booked appointment, e.g. '9:30 AM'",
    "consult.date": "Date of the consultation",
    "consult.findings": "Consultation findings",
    "consult.recommendation": "Treatment recommendation",
    "surgery.procedure": "Procedure (planned, or performed once done)",
    "surgery.date": "Surgery date (booked, or performed once done)",
    "postop.days": "Days since surgery for a post-op update, e.g. '7'",
    "postop.note": "Note of the latest post-op visit",
    "followup.plan": "Follow-up care plan: the note made when the case was closed "
    "(or, without one, with the surgery)",
    "today": "The letter's date",
}

# Template tags: only the conditional, to leave out a sentence when a value is empty.
ALLOWED_TAGS = ("if", "elif", "else", "endif")
ALLOWED_FILTERS = ("date", "default", "upper", "lower", "title", "capfirst", "linebreaksbr")
# A letter is a page or two; a bigger template is a mistake (or an attack on the worker).
MAX_TEMPLATE_CHARS = 20_000
MAX_SUBJECT_CHARS = 250  # LetterTemplate.subject and Letter.subject
LONG_DATE = "F j, Y"  # "November 26, 2026": how dates are written in a letter


class LetterDate(str):
    """A date in a letter: reads as 'November 26, 2026', and the ``date`` filter can still
    format it another way. A ``str`` (not a ``datetime.date``) so that Django's
    localisation leaves it alone and the context stays plain strings."""

    date_value: dt.date | None

    def __new__(cls, value: dt.date | None):
        obj = super().__new__(cls, dateformat.format(value, LONG_DATE) if value else "")
        obj.date_value = value
        return obj


register = Library()
register.tag("if", do_if)
for _name, _func in (
    ("default", default),
    ("upper", upper),
    ("lower", lower),
    ("title", title),
    ("capfirst", capfirst),
    ("linebreaksbr", linebreaksbr),
):
    register.filter(_name, _func)


@register.filter(name="date")
def letter_date(value, arg=None):
    """``{{ surgery.date|date:"l, F j" }}``; anything that is not a letter date is left
    as it is, and a format the date cannot take falls back to the long form."""
    day = getattr(value, "date_value", None)
    if day is None:
        return value
    try:
        return dateformat.format(day, arg or LONG_DATE)
    except (TypeError, ValueError, AttributeError):
        return str(value)


class _SandboxEngine(Engine):
    # Engine adds Django's default tags and filters to any ``builtins``; here there are none.
    default_builtins: list[str] = []


ENGINE = _SandboxEngine(
    dirs=[],
    app_dirs=False,
    loaders=[],  # nothing can be loaded by name: no include, no extends
    libraries={},  # nothing to {% load %} (and no load tag either)
    builtins=["communications.sandbox"],  # this module's ``register`` only
    autoescape=True,
    debug=False,
    string_if_invalid="",
)


class TemplateRefused(ValueError):
    """A template that may not be stored or rendered; ``errors`` say why, one per line."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _allowed_tags_text() -> str:
    return "only {% if … %} … {% else %} … {% endif %} can be used"


def _allowed_filters_text() -> str:
    return ", ".join(f"|{name}" for name in ALLOWED_FILTERS)


def _describe_syntax_error(error: TemplateSyntaxError) -> str:
    message = str(error)
    if match := re.search(r"Invalid filter: '([^']*)'", message):
        return (
            f"The filter |{match[1]} is not allowed in a letter. "
            f"Allowed filters: {_allowed_filters_text()}."
        )
    if "may not begin with underscores" in message:
        name = message.rsplit(":", 1)[-1].strip().strip("'")
        return f"{{{{ {name} }}}} is not a letter variable (names may not start with '_')."
    if match := re.search(r"Invalid block tag on line (\d+): '([^']*)'", message):
        return f"Line {match[1]}: {{% {match[2]} %}} is not allowed; {_allowed_tags_text()}."
    if "Unclosed tag" in message:
        return f"An {{% if %}} is never closed: add {{% endif %}}. ({message})"
    return f"The template cannot be read: {message}"


def _check_tokens(source: str) -> list[str]:
    """Errors visible token by token: forbidden tags and bad variables, all of them at once
    (the parser would stop at the first)."""
    errors = []
    parser = Parser([], builtins=ENGINE.template_builtins)
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            command = token.contents.split()[0] if token.contents.split() else ""
            if command not in ALLOWED_TAGS:
                errors.append(
                    f"Line {token.lineno}: {{% {command} %}} is not allowed; "
                    f"{_allowed_tags_text()}."
                )
        elif token.token_type == TokenType.VAR:
            if not token.contents:
                errors.append(f"Line {token.lineno}: an empty {{{{ }}}}.")
                continue
            try:
                parser.compile_filter(token.contents)
            except TemplateSyntaxError as error:
                errors.append(f"Line {token.lineno}: {_describe_syntax_error(error)}")
    return errors


def _expressions(nodelist):
    """Every filter expression in a parsed template: in {{ }} and in {% if %} conditions."""
    for node in nodelist:
        if isinstance(node, VariableNode):
            yield node.filter_expression
        elif isinstance(node, IfNode):
            for condition, branch in node.conditions_nodelists:
                yield from _condition_expressions(condition)
                yield from _expressions(branch)
        elif not isinstance(node, TextNode):
            # Cannot happen with this engine's library; refuse rather than trust.
            raise TemplateRefused([f"{type(node).__name__} is not allowed in a letter."])


def _condition_expressions(condition):
    if condition is None:
        return
    if isinstance(condition, TemplateLiteral):
        yield condition.value
        return
    yield from _condition_expressions(condition.first)
    yield from _condition_expressions(condition.second)


def _variable_paths(expression: FilterExpression):
    variables = [expression.var]
    for _func, args in expression.filters:
        variables.extend(arg for lookup, arg in args if lookup)
    for variable in variables:
        lookups = getattr(variable, "lookups", None)
        if lookups:  # a literal ("text", 3) has none
            yield ".".join(lookups)


def check_template(source: str) -> list[str]:
    """Why ``source`` may not be used as a letter template; empty when it may."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return [
            f"The template is too long ({len(source)} characters; at most {MAX_TEMPLATE_CHARS})."
        ]
    errors = _check_tokens(source)
    if errors:
        return errors
    try:
        template = Template(source, engine=ENGINE)
    except TemplateSyntaxError as error:
        return [_describe_syntax_error(error)]
    try:
        paths = [path for e in _expressions(template.nodelist) for path in _variable_paths(e)]
    except TemplateRefused as refused:
        return refused.errors
    unknown = sorted({path for path in paths if path not in LETTER_VARIABLES})
    return [_unknown_variable(path) for path in unknown]


def _unknown_variable(path: str) -> str:
    message = f"{{{{ {path} }}}} is not a letter variable."
    if close := get_close_matches(path, LETTER_VARIABLES, n=1, cutoff=0.85):
        message += f" Did you mean {{{{ {close[0]} }}}}?"
    return message


def validate_template(subject: str, body: str) -> list[str]:
    """Why this subject and body cannot be saved as a letter template; empty when they can."""
    errors = []
    if not subject.strip():
        errors.append("Subject: write a subject line.")
    if "\n" in subject or "\r" in subject:
        errors.append("Subject: keep the subject on one line.")
    if len(subject) > MAX_SUBJECT_CHARS:
        errors.append(f"Subject: at most {MAX_SUBJECT_CHARS} characters.")
    errors += [f"Subject: {error}" for error in check_template(subject)]
    if not body.strip():
        errors.append("Body: write the letter.")
    errors += [f"Body: {error}" for error in check_template(body)]
    return errors


@lru_cache(maxsize=256)
def compile_template(source: str, *, html: bool) -> Template:
    """Check and parse ``source``; ``html`` escapes its own text too (for the letter body).

    Cached by source: a compiled template is immutable and safe to render from any thread.
    """
    errors = check_template(source)
    if errors:
        raise TemplateRefused(errors)
    template = Template(source, engine=ENGINE)
    if html:
        for node in template.nodelist.get_nodes_by_type(TextNode):
            node.s = escape(node.s)
    return template


def render(source: str, context: dict, *, html: bool) -> str:
    """Render a checked template on a prepared context of plain values.

    ``html=True``: the template's text and every value are HTML-escaped. ``html=False``
    (a subject line, plain text): nothing is escaped.
    """
    template = compile_template(source, html=html)
    return template.render(Context(context, autoescape=html))
