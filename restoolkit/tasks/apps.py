"""Domain applications plug into the core through the ``restoolkit.domains`` entry-point group.

The core never imports a domain: the command line, the demo and ``pretrain`` ask this module for the
installed applications. A package registers one in its ``pyproject.toml``::

    [project.entry-points."restoolkit.domains"]
    medical = "domains.medical.app:APP"

and ``APP`` is a :class:`DomainApp`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from restoolkit.errors import ConfigError
from restoolkit.tasks.options import Option, validate

GROUP = "restoolkit.domains"


@dataclass(frozen=True)
class DomainApp:
    """One domain's end-to-end jobs.

    Attributes:
        name: the command-line name (``restoolkit train NAME``).
        description: one line.
        options: the config keys ``run`` accepts (checked before any work).
        run: ``run(config, evaluate_only=False) -> dict`` with the validated config.
        demo: ``demo(out_folder, quick) -> str``, the Markdown section of the demo report.
        recipes: preset name → ``build(out_folder, small) -> folder`` for ``restoolkit pretrain``.
        recipe_descriptions: preset name → one line.
    """

    name: str
    description: str
    options: list[Option]
    run: Callable[..., dict]
    demo: Callable[..., str] | None = None
    recipes: dict[str, Callable] = field(default_factory=dict)
    recipe_descriptions: dict[str, str] = field(default_factory=dict)

    def validate(self, config: dict, *, where: str = "config") -> dict:
        return validate(self.options, config, where=where)

    def help(self) -> str:
        return "config keys:\n" + "\n".join(o.describe() for o in self.options)


def installed_apps() -> dict[str, DomainApp]:
    """The installed domain applications by name, in name order."""
    apps = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        app = ep.load()
        if not isinstance(app, DomainApp):
            raise ConfigError(f"entry point {ep.name} = {ep.value} in group {GROUP} is not a DomainApp")
        apps[app.name] = app
    return apps


def installed_recipes() -> dict[str, tuple[DomainApp, str]]:
    """Preset recipes of every installed application: name → (app, description)."""
    return {name: (app, app.recipe_descriptions.get(name, "")) for app in installed_apps().values()
            for name in app.recipes}
