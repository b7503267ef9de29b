"""`datakit kit build`: a datakit's source tree -> a wheel that carries its manifest.

The wheel is built by the distribution's own build backend (whatever `[build-system]` names: hatchling,
setuptools...) through PyPA's `build`, as `python -m build --wheel` would. Before that, the datakit is
imported and every contract and transform checked, so a broken datakit never becomes a wheel. After it,
the manifest (`datakit.datakits.manifest`) is added to the wheel's `.dist-info/` with its line in
`RECORD`, so installers verify it like every other file and `importlib.metadata` reads it back.

Without `isolation` the backend runs in the current environment (datakit brings hatchling, the
backend `datakit kit new` writes): no index is needed, and the build is reproducible with the datakit
that checks it. With `isolation`, `build` installs the backend in a fresh environment first.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from datakit.datakits.distribution import ENTRY_POINT_GROUP, source_tree
from datakit.datakits.errors import DatakitPackageError
from datakit.datakits.manifest import MANIFEST_FILE, Manifest, manifest_of


@dataclass(frozen=True)
class BuiltDatakit:
    """A built wheel and the manifest it carries."""

    wheel: Path
    manifest: Manifest


def build_datakit(path: Path, out: Path | None = None, *, isolation: bool = False) -> BuiltDatakit:
    """Check the datakit whose source tree is `path`, build its wheel into `out` (default `path/dist`),
    and add its manifest; a DatakitPackageError when it cannot be built."""
    from datakit.datakits.package import datakit_at

    root = path.resolve()
    tree = source_tree(root)
    if tree is None:
        raise DatakitPackageError(
            "no pyproject.toml: a datakit is built from its distribution's source tree",
            file=root,
            hint="create one with `datakit kit new NAME`, or add a pyproject.toml with a "
            f'[project.entry-points."{ENTRY_POINT_GROUP}"] entry',
        )
    if tree.version is None:
        raise DatakitPackageError(
            "the distribution has no static version ([project] version): the manifest must say which "
            "version it describes",
            file=root / "pyproject.toml",
            hint='set `version = "1.0.0"` in [project]',
        )
    kit = datakit_at(root, tree.datakit)
    manifest = manifest_of(kit, origin=str(root))
    target = (out or root / "dist").resolve()
    target.mkdir(parents=True, exist_ok=True)
    wheel = _build_wheel(root, target, isolation=isolation)
    _add_manifest(wheel, manifest)
    return BuiltDatakit(wheel, manifest)


def _build_wheel(root: Path, out: Path, *, isolation: bool) -> Path:
    import build
    import pyproject_hooks

    builder = build.ProjectBuilder(root, runner=pyproject_hooks.quiet_subprocess_runner)
    try:
        if isolation:
            from build.env import DefaultIsolatedEnv

            with DefaultIsolatedEnv() as env:
                isolated = build.ProjectBuilder.from_isolated_env(
                    env, root, runner=pyproject_hooks.quiet_subprocess_runner
                )
                env.install(isolated.build_system_requires)
                env.install(isolated.get_requires_for_build("wheel"))
                return Path(isolated.build("wheel", out))
        missing = builder.check_dependencies("wheel")
        if missing:
            needed = sorted({group[0] for group in missing})
            raise DatakitPackageError(
                f"the build backend needs {', '.join(needed)}, which is not installed here",
                file=root / "pyproject.toml",
                hint=f"pip install {' '.join(repr(n) for n in needed)}, or build with --isolation",
            )
        return Path(builder.build("wheel", out))
    except build.BuildBackendException as exc:
        raise DatakitPackageError(
            f"the build backend failed: {exc}",
            file=root / "pyproject.toml",
            hint="run `python -m build --wheel --no-isolation` in that folder to see its output",
        ) from None
    except build.BuildException as exc:
        raise DatakitPackageError(f"cannot build: {exc}", file=root / "pyproject.toml") from None


def _add_manifest(wheel: Path, manifest: Manifest) -> None:
    """Rewrite `wheel` with the manifest in its `.dist-info/` and a RECORD line for it."""
    data = manifest.dumps().encode()
    with zipfile.ZipFile(wheel) as source:
        records = [n for n in source.namelist() if n.endswith(".dist-info/RECORD")]
        if len(records) != 1:
            raise DatakitPackageError(f"{wheel.name}: not a wheel (no single .dist-info/RECORD)")
        record = records[0]
        dist_info = record.rsplit("/", 1)[0]
        _check_entry_point(source, dist_info, manifest, wheel)
        name = f"{dist_info}/{MANIFEST_FILE}"
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines = [
            line
            for line in source.read(record).decode().splitlines()
            if line and not line.startswith((f"{name},", f"{record},"))
        ]
        lines += [f"{name},sha256={digest},{len(data)}", f"{record},,"]
        with tempfile.NamedTemporaryFile(dir=wheel.parent, suffix=".whl", delete=False) as handle:
            temporary = Path(handle.name)
        try:
            with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as target:
                for info in source.infolist():
                    if info.filename in (record, name):
                        continue
                    target.writestr(info, source.read(info.filename))
                target.writestr(name, data)
                target.writestr(record, "\n".join(lines) + "\n")
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    temporary.replace(wheel)


def _check_entry_point(source: zipfile.ZipFile, dist_info: str, manifest: Manifest, wheel: Path) -> None:
    """The wheel must declare the datakit's entry point, or no project could find it once installed."""
    import configparser

    parser = configparser.ConfigParser()
    with contextlib.suppress(KeyError):  # a wheel without entry points: reported below
        parser.read_string(source.read(f"{dist_info}/entry_points.txt").decode())
    entries = dict(parser.items(ENTRY_POINT_GROUP)) if parser.has_section(ENTRY_POINT_GROUP) else {}
    if manifest.datakit not in entries:
        raise DatakitPackageError(
            f"{wheel.name}: the wheel does not declare the entry point "
            f"{ENTRY_POINT_GROUP}:{manifest.datakit}, so an installed copy would not be found",
            hint="check [project.entry-points] in pyproject.toml and the build backend's settings",
        )
