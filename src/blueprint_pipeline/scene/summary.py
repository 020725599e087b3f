"""A one-screen summary of a validated manifest (for `blueprint validate`)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from blueprint_pipeline.scene.ingest import ManifestIngest

MAX_CATEGORIES_SHOWN = 15


def print_summary(ingest: ManifestIngest, console: Console) -> None:
    h = ingest.header
    assert h is not None
    s = h.scene
    excluded = len(ingest.excluded)
    console.print(f"[bold green]valid[/] manifest [bold]{h.scene_id}[/] (version {h.version}): "
                  f"{ingest.object_count} objects"
                  + (f", {excluded} kept out of simulation (no sizes)" if excluded else ""), markup=True)
    room = ""
    if s.room is not None and s.room.bounds is not None:
        b = s.room.bounds
        room = f", room {b.width:g} x {b.depth:g} x {b.height:g} (width x depth x height)"
    console.print(f"frame {s.coordinate_frame} (normalised to z_up), {s.meters_per_unit:g} m per unit, "
                  f"euler angles in {s.euler_units}{room}"
                  + (f", environment {s.environment_type}" if s.environment_type else ""))
    console.print(f"read {'as a stream' if ingest.raw.streamed else 'in memory'}"
                  + (f", sha256 {ingest.raw.sha256[:16]}..." if ingest.raw.sha256 else ""))
    roles = Table(title="objects by sim_role", show_header=True)
    roles.add_column("sim_role")
    roles.add_column("objects", justify="right")
    for role, n in sorted(ingest.by_role.items(), key=lambda kv: (-kv[1], kv[0])):
        roles.add_row(role, str(n))
    console.print(roles)
    cats = Table(title="objects by category", show_header=True)
    cats.add_column("category")
    cats.add_column("objects", justify="right")
    ranked = sorted(ingest.by_category.items(), key=lambda kv: (-kv[1], kv[0]))
    for cat, n in ranked[:MAX_CATEGORIES_SHOWN]:
        cats.add_row(cat, str(n))
    if len(ranked) > MAX_CATEGORIES_SHOWN:
        rest = sum(n for _, n in ranked[MAX_CATEGORIES_SHOWN:])
        cats.add_row(f"({len(ranked) - MAX_CATEGORIES_SHOWN} more categories)", str(rest))
    console.print(cats)
    warnings = ingest.problems.warnings
    if warnings:
        console.print(f"[yellow]{len(warnings)} warning{'s' if len(warnings) != 1 else ''}:[/]", markup=True)
        for w in warnings:
            console.print(f"  {w}", markup=False)
    else:
        console.print("no warnings")
