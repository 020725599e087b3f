"""`blueprint geniesim install BUNDLE --assets DIR`: put a native bundle into a Genie Sim assets folder.

Genie Sim resolves everything from one folder, $SIM_ASSETS: its own robot files
(robot/G2_omnipicker/robot_fix.usda, robot/curobo_robot/...) and the task's objects, interaction
data and scene. So SIM_ASSETS cannot be the bundle alone; the bundle's folders are added to the
existing assets folder at the same relative paths:

    objects/<category>/<asset_id>/   interaction/<asset_id>/   scenes/<scene_id>/

Each such folder is copied (default) or symlinked (`link=True`; the links hold absolute paths, so
they do not resolve inside a container that mounts only the assets folder). Nothing is ever
overwritten: a folder already there that is the same (a link to the bundle's folder, or identical
files) is skipped; anything else there is a conflict, and any conflict stops the install before it
writes anything. Task files stay in the bundle's tasks/ (Genie Sim takes them as an argument).
"""

from __future__ import annotations

import filecmp
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.geniesim.native import layout

INSTALLED_DIRS = ("objects/*/*", "interaction/*", "scenes/*")


@dataclass
class InstallReport:
    installed: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)


def _same_tree(a: Path, b: Path) -> bool:
    """True when b holds exactly a's files with the same bytes (a link to a counts)."""
    try:
        if a.resolve() == b.resolve():
            return True
    except OSError:
        return False
    if not b.is_dir() or b.is_symlink() and not b.exists():
        return False
    for dirpath, dirnames, filenames in os.walk(a):
        rel = os.path.relpath(dirpath, a)
        other = b / rel
        if not other.is_dir():
            return False
        if set(filenames) ^ {f for f in os.listdir(other) if (other / f).is_file()}:
            return False
        for f in filenames:
            if not filecmp.cmp(os.path.join(dirpath, f), other / f, shallow=False):
                return False
        if set(dirnames) ^ {d for d in os.listdir(other) if (other / d).is_dir()}:
            return False
    return True


def bundle_folders(bundle: Path) -> list[str]:
    """The bundle's folders to install, relative to its root."""
    out: list[str] = []
    for pattern in INSTALLED_DIRS:
        out += sorted(str(p.relative_to(bundle)) for p in bundle.glob(pattern) if p.is_dir())
    return out


def install_bundle(bundle: str | Path, assets: str | Path, link: bool = False) -> InstallReport:
    bundle, assets = Path(bundle).resolve(), Path(assets)
    if (bundle / "native").is_dir() and not (bundle / "objects").is_dir():
        bundle = bundle / "native"
    if not (bundle / layout.BUNDLE_INFO).is_file():
        raise InvalidInputError(f"{bundle}: not a native bundle (no {layout.BUNDLE_INFO})")
    if not assets.is_dir():
        raise InvalidInputError(f"{assets}: not a folder; give Genie Sim's existing assets folder (the one holding robot/)")
    assets = assets.resolve()
    if assets == bundle or assets.is_relative_to(bundle) or bundle.is_relative_to(assets):
        raise InvalidInputError(f"{assets}: the assets folder and the bundle must not contain one another")
    report = InstallReport()
    todo: list[str] = []
    conflicts: list[Problem] = []
    for rel in bundle_folders(bundle):
        dst = assets / rel
        if not dst.exists() and not dst.is_symlink():
            todo.append(rel)
        elif _same_tree(bundle / rel, dst):
            report.already_present.append(rel)
        else:
            conflicts.append(Problem(rel, f"{dst} already exists and differs from the bundle's; not overwritten"))
        parent = dst.parent
        while parent != assets:  # a file where a folder must go
            if parent.exists() and not parent.is_dir():
                conflicts.append(Problem(rel, f"{parent} is a file, not a folder"))
                break
            parent = parent.parent
    ours = {Path(rel).name: rel for rel in bundle_folders(bundle) if rel.startswith("objects/")}
    if (assets / "objects").is_dir() and ours:  # interaction data is found by folder name: unique in the tree
        for dirpath, dirnames, _ in os.walk(assets / "objects"):
            for d in dirnames:
                rel = os.path.relpath(os.path.join(dirpath, d), assets)
                if d in ours and rel != ours[d]:
                    conflicts.append(Problem(ours[d], f"{assets / rel} has the same folder name; Genie Sim finds "
                                                      "interaction data by folder name"))
    if conflicts:
        raise InvalidInputError(f"{assets}: {len(conflicts)} conflict(s); nothing was installed", conflicts)
    for rel in todo:
        src, dst = bundle / rel, assets / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if link:
            os.symlink(src, dst, target_is_directory=True)
        else:
            tmp = dst.with_name(f".{dst.name}.installing")
            if tmp.exists():
                shutil.rmtree(tmp)
            shutil.copytree(src, tmp)
            os.replace(tmp, dst)
        report.installed.append(rel)
    return report
