"""pyproject.toml and the three locks in requirements/ agree (`make lock` writes all three).

- requirements/pip.lock holds exactly the `installer` group's pip, hash-checked: the Makefile
  installs it before anything else, whatever pip the venv started with.
- requirements/runtime.lock holds the app's dependencies at pyproject's versions and nothing
  that only the tests need: `make run` and production install it.
- requirements/dev.lock holds runtime.lock's pins, hash for hash, and the dev group's.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LOCKS = REPO / "requirements"
ROOT_VIA = "cycles-clinic (pyproject.toml"


@dataclass
class Pin:
    version: str
    hashes: set[str] = field(default_factory=set)
    via: set[str] = field(default_factory=set)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(path: Path) -> dict[str, Pin]:
    """uv's `--generate-hashes` output: `name==version`, its hashes, then `# via` lines."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if found := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)", line):
            current = pins[canonical(found.group(1))] = Pin(found.group(2))
        elif current and (found := re.search(r"--hash=(sha256:[0-9a-f]{64})", stripped)):
            current.hashes.add(found.group(1))
        elif current and stripped.startswith("#") and stripped not in {"# via", "#"}:
            parent = stripped.removeprefix("# via ").removeprefix("#").strip()
            current.via.add(parent if parent.startswith(ROOT_VIA) else canonical(parent))
    return pins


def pyproject_pins(group: str | None) -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    specs = (
        project["project"]["dependencies"]
        if group is None
        else (project["dependency-groups"][group])
    )
    pins = {}
    for spec in specs:
        found = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?==(\S+)", spec)
        assert found, f"pyproject.toml pins every dependency with ==: {spec!r} does not"
        pins[canonical(found.group(1))] = found.group(3)
    return pins


RUNTIME = parse_lock(LOCKS / "runtime.lock")
DEV = parse_lock(LOCKS / "dev.lock")
PIP = parse_lock(LOCKS / "pip.lock")


@pytest.mark.parametrize(
    ("lock", "group"),
    [("runtime", None), ("dev", None), ("dev", "dev"), ("pip", "installer")],
)
def test_each_lock_pins_what_pyproject_pins(lock: str, group: str | None) -> None:
    pins = {"runtime": RUNTIME, "dev": DEV, "pip": PIP}[lock]
    for name, version in pyproject_pins(group).items():
        assert name in pins, f"{name} is in pyproject.toml but not in {lock}.lock: make lock"
        assert pins[name].version == version, (
            f"pyproject.toml pins {name}=={version}, {lock}.lock {pins[name].version}: make lock"
        )


def test_every_pin_is_hash_checked() -> None:
    for lock, pins in (("runtime", RUNTIME), ("dev", DEV), ("pip", PIP)):
        assert pins, f"{lock}.lock pins nothing"
        assert all(pin.hashes for pin in pins.values()), f"{lock}.lock has a pin without hash"


def test_the_pip_lock_holds_only_pip() -> None:
    assert set(PIP) == {"pip"}


def test_the_dev_lock_installs_exactly_the_runtime_locks_pins() -> None:
    for name, pin in RUNTIME.items():
        assert name in DEV, f"{name} is in runtime.lock but not dev.lock: make lock"
        assert (DEV[name].version, DEV[name].hashes) == (pin.version, pin.hashes), name


def test_the_runtime_lock_holds_only_what_the_app_needs() -> None:
    """Every runtime pin is a dependency of the project or of another runtime pin, and
    nothing only the tests use (pytest, playwright, mypy, ...) is among them."""
    for name, pin in RUNTIME.items():
        parents = {parent for parent in pin.via if not parent.startswith(ROOT_VIA)}
        assert pin.via, f"{name} in runtime.lock says nothing of why it is there"
        assert parents <= set(RUNTIME), f"{name} is there for {parents - set(RUNTIME)}"
        assert not any("pyproject.toml:dev" in parent for parent in pin.via), name
    assert not set(pyproject_pins("dev")) & set(RUNTIME)


def test_make_lock_writes_each_lock_where_the_makefile_installs_it() -> None:
    makefile = (REPO / "Makefile").read_text()
    for lock in ("pip", "runtime", "dev"):
        header = (LOCKS / f"{lock}.lock").read_text().splitlines()[1]
        assert header.rstrip().endswith(f"-o requirements/{lock}.lock"), header
        assert f"requirements/{lock}.lock" in makefile
