"""Which services a local stack runs: discovered, never listed.

A service declares itself in ``ocrpipe-service.json``
(:class:`ocrpipe.topology.ServiceDeclaration`): the events it consumes, its HTTP routes, the
storage it owns. The runtime finds

* every ``services/<service>/ocrpipe-service.json`` of the repository (its handler packages
  are installed in the workspace), and
* the declaration of every extra consumer package it is given (``ocrpipe up --consumer PKG``,
  ``OneMachineStack(consumers=[...])``): an importable package that ships the file as package data
  beside its handler module, from anywhere.

and assembles them with the shared naming rules into the stack's
:class:`~ocrpipe.topology.Topology`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ocrpipe.topology import (
    DECLARATION_FILE,
    ServiceDeclaration,
    Topology,
    load_declaration,
    read_declaration,
)

#: The repository's service folders (the runtime is installed from the workspace, editable).
SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
#: The web page's files, served by the local API at ``/`` (on AWS: the web stack).
WEB_DIR = Path(__file__).resolve().parents[2] / "web" / "public"


def service_declarations(services_dir: Path | None = None) -> list[ServiceDeclaration]:
    """The declarations under ``services_dir`` (default: the repository's), by folder name."""
    root = SERVICES_DIR if services_dir is None else services_dir
    if not root.is_dir():
        raise ValueError(f"no services folder at {root} (is ocrpipe_local installed editable?)")
    found = []
    for path in sorted(root.glob(f"*/{DECLARATION_FILE}")):
        declaration = read_declaration(path)
        if declaration.service != path.parent.name:
            raise ValueError(
                f"{path}: declares service {declaration.service!r} in folder {path.parent.name!r}"
            )
        found.append(declaration)
    return found


def package_declarations(packages: Iterable[str]) -> list[ServiceDeclaration]:
    """The declarations shipped by these consumer packages (``--consumer PKG``)."""
    declarations = []
    for package in packages:
        try:
            declarations.append(load_declaration(package))
        except ImportError as exc:
            raise ValueError(f"cannot import consumer package {package!r}: {exc}") from exc
    return declarations


def discover(packages: Iterable[str] = (), *, services_dir: Path | None = None) -> Topology:
    """The repository's services plus the consumer ``packages``."""
    return Topology.assemble([*service_declarations(services_dir), *package_declarations(packages)])
