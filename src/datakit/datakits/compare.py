"""`datakit kit check PATH --against OLD`: every change between two versions of a datakit, and a verdict.

Both sides become manifests (`datakit.datakits.manifest`): a wheel's is read from its `.dist-info/`
(its code is never imported), a folder's is computed from its imported contracts, and a git ref's
from the datakit's folder as that commit has it (`git archive`, into a temporary folder). Tables are
matched by `layer:system.schema.table` and compared by `datakit.contracts.compat`; a removed transform,
or one that now maps other tables, breaks the pipelines that name it.

The verdict follows semantic versioning: a breaking change needs a new major version. While the major
version is 0, a new minor version is enough (0.3 -> 0.4), as Cargo reads 0.x versions.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from datakit.contracts.compat import Change, Impact, compare_tables
from datakit.datakits.errors import DatakitPackageError
from datakit.datakits.manifest import Manifest, manifest_of, read_wheel_manifest
from datakit.errors import UsageError


@dataclass(frozen=True)
class Comparison:
    """The changes from `old` to `new`, and whether the version change allows them."""

    old: Manifest
    new: Manifest
    changes: tuple[Change, ...]
    verdict: str
    ok: bool

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.impact is Impact.BREAKING]


def check_datakit(path: Path, against: str) -> Comparison:
    """Compare the datakit at `path` (a folder, or a wheel) with `against` (a wheel, a folder, a git ref)."""
    new = manifest_at(path)
    with _old_version(path, against) as old:
        return compare_manifests(old, new)


def manifest_at(path: Path) -> Manifest:
    """The manifest of a wheel, or of the datakit in a folder (a package or a distribution's source tree)."""
    from datakit.datakits.distribution import source_tree
    from datakit.datakits.package import datakit_at

    if path.suffix == ".whl":
        if not path.is_file():
            raise UsageError(f"no wheel {path}")
        return read_wheel_manifest(path)
    if not path.is_dir():
        raise UsageError(f"{path} is neither a folder nor a wheel")
    tree = source_tree(path)
    return manifest_of(datakit_at(path, tree.datakit if tree is not None else None), origin=str(path))


def compare_manifests(old: Manifest, new: Manifest) -> Comparison:
    """The changes and the verdict (see the module's docstring)."""
    changes = [*compare_tables(old.by_key, new.by_key), *_transform_changes(old, new)]
    verdict, ok = _verdict(old, new, [c for c in changes if c.impact is Impact.BREAKING])
    return Comparison(old, new, tuple(changes), verdict, ok)


def _transform_changes(old: Manifest, new: Manifest) -> Iterator[Change]:
    before = {t.name: t for t in old.transforms}
    after = {t.name: t for t in new.transforms}
    for name, was in before.items():
        now = after.get(name)
        where = f"transform {name}"
        if now is None:
            yield Change(Impact.BREAKING, where, None, "transform removed (pipelines naming it fail)")
        elif (was.source, was.target) != (now.source, now.target):
            yield Change(
                Impact.BREAKING,
                where,
                None,
                f"now maps {now.source} -> {now.target} (was {was.source} -> {was.target})",
            )
    for name, now in after.items():
        if name not in before:
            yield Change(
                Impact.COMPATIBLE,
                f"transform {name}",
                None,
                f"transform added ({now.source} -> {now.target})",
            )


def _verdict(old: Manifest, new: Manifest, breaking: list[Change]) -> tuple[str, bool]:
    from packaging.version import InvalidVersion, Version

    if not breaking:
        return "no breaking change", True
    n = len(breaking)
    what = f"{n} breaking change{'s' if n != 1 else ''}"
    if old.version is None or new.version is None:
        side = "the new" if new.version is None else "the old"
        return f"{what}, and {side} version is unknown: cannot tell whether the major version changed", False
    try:
        before, after = Version(old.version), Version(new.version)
    except InvalidVersion as exc:
        return f"{what}, and a version is not a version: {exc}", False
    if before.major == 0 and after.major == 0:
        bumped = after.minor > before.minor
        needed = f"0.{before.minor + 1}.0"
    else:
        bumped = after.major > before.major
        needed = f"{before.major + 1}.0.0"
    if bumped:
        return f"{what}, allowed by the new major version ({old.version} -> {new.version})", True
    return (
        f"{what} without a new major version ({old.version} -> {new.version}): warehouses that pin "
        f"'>={old.version},<{before.major + 1 if before.major else f'0.{before.minor + 1}'}' would break; "
        f"release it as {needed}, or undo the breaking changes",
        False,
    )


@contextmanager
def _old_version(path: Path, against: str) -> Iterator[Manifest]:
    """The manifest `against` names: an existing wheel or folder, else a git ref of `path`'s repository."""
    candidate = Path(against).expanduser()
    if candidate.exists():
        yield manifest_at(candidate)
        return
    if candidate.suffix == ".whl":
        raise UsageError(f"--against {against}: no such wheel")
    with _checkout(path, against) as folder:
        manifest = manifest_at(folder)
        yield Manifest(
            datakit=manifest.datakit,
            version=manifest.version,
            package=manifest.package,
            module=manifest.module,
            tables=manifest.tables,
            transforms=manifest.transforms,
            requires=manifest.requires,
            origin=f"git:{against}",
        )


def _git(path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, check=False)


def _is_ref(path: Path, ref: str) -> bool:
    folder = path if path.is_dir() else path.parent
    return _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode == 0


@contextmanager
def _checkout(path: Path, ref: str) -> Iterator[Path]:
    """The datakit's folder as commit `ref` has it, in a temporary folder."""
    folder = (path if path.is_dir() else path.parent).resolve()
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise UsageError(
            f"--against {ref}: not a wheel or a folder, and {folder} is not in a git repository",
            hint="give a wheel (old.whl), a folder, or a git ref of the repository holding the datakit",
        )
    root = Path(top.stdout.decode().strip())
    if not _is_ref(folder, ref):
        raise UsageError(
            f"--against {ref}: not a wheel, a folder, or a git ref of {root}",
            hint="e.g. --against v1.0.0 (a tag), --against main~3, or --against dist/old.whl",
        )
    relative = folder.relative_to(root).as_posix()
    archive = _git(root, "archive", "--format=tar", ref, "--", relative or ".")
    if archive.returncode != 0:
        raise DatakitPackageError(
            f"the datakit's folder {relative} is not in {ref}: {archive.stderr.decode().strip()}",
            hint="check that the datakit existed at that ref",
        )
    with tempfile.TemporaryDirectory(prefix="datakit-kit-check-") as scratch:
        import io

        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(scratch, filter="data")
        yield Path(scratch) / relative
