"""The machinery of the route matrix: walking the URL resolver, the admin's generated
routes, the API operations of the OpenAPI schema, and what each route requires.

tests/security/test_route_matrix.py asks the questions; tests/security/routes.py is the
table a new route is added to.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from practices.access import Action
from referrals.api.permissions import required_action as api_required_action

from .route_world import Objects
from .routes import (
    ADMIN_OBJECTS,
    PUBLIC,
    PUBLIC_PREFIXES,
    ROUTES,
    Route,
)


@dataclass(frozen=True)
class Pattern:
    key: str  # the namespaced URL name, or the route text for an unnamed pattern
    route: str
    callback: Callable


def url_patterns(urlconf=None) -> Iterator[Pattern]:
    """Every URL pattern of the site, includes flattened (admin/ and api/v1/ too)."""

    def walk(patterns, prefix: str, namespace: str | None):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = ":".join(n for n in (namespace, entry.namespace) if n) or None
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                route = prefix + str(entry.pattern)
                name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
                yield Pattern(name or route, route, entry.callback)

    yield from walk(get_resolver(urlconf).url_patterns, "", None)


# --- the Django admin ---------------------------------------------------------------------

AdminUrl = Callable[[Objects], str] | None  # None: no tenant object to request


def admin_routes() -> dict[str, AdminUrl]:
    """Every model admin's pages, with the URL of one practice's object of that model."""
    routes: dict[str, AdminUrl] = {
        "admin:index": lambda o: reverse("admin:index"),
        "admin:app_list": lambda o: reverse("admin:app_list", args=["referrals"]),
        # The admin's typeahead lists offices: none of another practice's may show.
        "admin:autocomplete": lambda o: (
            reverse("admin:autocomplete")
            + "?app_label=referrals&model_name=referringprovider&field_name=office&term=Dental"
        ),
        "admin:view_on_site": lambda o: reverse(
            "admin:view_on_site",
            args=[ContentType.objects.get_for_model(o.patient).pk, o.patient.pk],
        ),
        "admin:auth_user_password_change": lambda o: reverse(
            "admin:auth_user_password_change", args=[o.support.pk]
        ),
    }
    for model in admin.site._registry:
        app, name = model._meta.app_label, model._meta.model_name
        if model not in ADMIN_OBJECTS:
            continue  # reported by uncovered(): the admin's object is not in the table
        attr = ADMIN_OBJECTS[model]
        for suffix in ("changelist", "add"):
            routes[f"admin:{app}_{name}_{suffix}"] = _admin_page_url(f"admin:{app}_{name}_{suffix}")
        for suffix in ("change", "delete", "history"):
            key = f"admin:{app}_{name}_{suffix}"
            routes[key] = None if attr is None else _admin_object_url(key, attr)
        bare = f"admin/{app}/{name}/<path:object_id>/"
        routes[bare] = None if attr is None else _admin_bare_url(app, name, attr)
    return routes


def _admin_page_url(name: str) -> Callable[[Objects], str]:
    return lambda o: reverse(name)


def _admin_object_url(name: str, attr: str) -> Callable[[Objects], str]:
    return lambda o: reverse(name, args=[getattr(o, attr).pk])


def _admin_bare_url(app: str, model: str, attr: str) -> Callable[[Objects], str]:
    return lambda o: f"/admin/{app}/{model}/{getattr(o, attr).pk}/"


def is_admin(key: str) -> bool:
    return key.startswith("admin:") or key.startswith("admin/")


# --- coverage -----------------------------------------------------------------------------


def uncovered(urlconf=None) -> list[str]:
    """Routes the matrix cannot check: not public, not in the table, or with no action."""
    problems = []
    admin_table = admin_routes()
    for model in admin.site._registry:
        if model not in ADMIN_OBJECTS:
            problems.append(f"admin model {model.__name__}: add it to routes.ADMIN_OBJECTS")
    for pattern in url_patterns(urlconf):
        key = pattern.key
        if key in PUBLIC or any(pattern.route.startswith(p) for p in PUBLIC_PREFIXES):
            continue
        if is_admin(key):
            if key not in admin_table:
                problems.append(f"{key}: an admin page the matrix does not build")
            continue
        spec = ROUTES.get(key)
        if spec is None:
            problems.append(
                f"{key} ({pattern.route}): add it to tests/security/routes.py ROUTES, "
                "or to PUBLIC with the reason it is public"
            )
            continue
        if spec.api:
            view_class = getattr(pattern.callback, "cls", None)
            if not getattr(view_class, "required_actions", None):
                problems.append(f"{key}: an API view without required_actions")
        elif not isinstance(getattr(pattern.callback, "required_action", None), Action):
            problems.append(f"{key}: the view has no @practice_required(Action.X)")
    return problems


# --- building requests --------------------------------------------------------------------


class _Probe:
    """Stands in for Objects: records whether a builder reads an object's id."""

    def __init__(self):
        self.read = False

    def __getattr__(self, name):
        self.read = True
        return SimpleNamespace(pk=1)


def takes_object(spec: Route) -> bool:
    """Whether the route names an object (an id in its path, query or body)."""
    probe = _Probe()
    for build in (spec.kwargs, spec.query, spec.data):
        build(probe)
    return probe.read


def url_of(name: str, spec: Route, objects: Objects) -> str:
    return reverse(name, kwargs=spec.kwargs(objects) or None)


def required_action_of(name: str, spec: Route, objects: Objects) -> Action:
    return resolve(url_of(name, spec, objects)).func.required_action


# --- the API ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    path: str  # as in the schema: /api/v1/offices/{id}/
    method: str  # GET, POST, ...

    @property
    def sample_path(self) -> str:
        return re.sub(r"\{[^}]+\}", "1", self.path)

    @property
    def url_name(self) -> str:
        return resolve(self.sample_path).url_name

    @property
    def takes_object(self) -> bool:
        return "{" in self.path


def api_operations() -> list[Operation]:
    """Every operation the OpenAPI schema describes (drf-spectacular's own generator)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        Operation(path, method.upper())
        for path, operations in schema["paths"].items()
        for method in operations
    ]


def operation_action(operation: Operation) -> Action | None:
    """What the operation needs, read from its view's required_actions."""
    callback = resolve(operation.sample_path).func
    view = callback.cls(**getattr(callback, "initkwargs", {}))
    actions = getattr(callback, "actions", None)
    if actions is not None:
        view.action = actions.get(operation.method.lower())
    return api_required_action(view, operation.method)
