"""Where things live in a native bundle (paths relative to the bundle root, i.e. $SIM_ASSETS).

    objects/<category>/<asset_id>/Aligned.usd            mesh in the object frame, metres, centred
    objects/<category>/<asset_id>/object_parameters.json
    interaction/<asset_id>/interaction.json              grasp and place labels
    interaction/<asset_id>/grasp_pose/grasp_pose.pkl     {"grasp_pose": (N, 4, 4), "width": (N,)}
    scenes/<scene_id>/background.usda                    every object not named in a task
    tasks/<task_id>.json                                 data-collection task files
    bundle.json                                          what was written and why anything was not
"""

from __future__ import annotations

import re

ALIGNED_USD = "Aligned.usd"
OBJECT_PARAMETERS = "object_parameters.json"
INTERACTION = "interaction.json"
GRASP_FILE = "grasp_pose/grasp_pose.pkl"  # Genie Sim's pre-flight check hard-codes this name
BUNDLE_INFO = "bundle.json"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_name(text: str) -> str:
    """A folder-safe name: letters, digits, '_' and '-' only."""
    return _UNSAFE.sub("_", text).strip("_") or "unnamed"


def asset_id(scene_id: str, object_id: str) -> str:
    """Asset folder basename, unique across scenes (Genie Sim finds interaction data by basename)."""
    return f"{safe_name(scene_id)}-{safe_name(object_id)}"


def object_dir(category: str, asset: str) -> str:
    return f"objects/{safe_name(category.lower())}/{asset}"


def interaction_dir(asset: str) -> str:
    return f"interaction/{asset}"


def scene_usd(scene_id: str) -> str:
    return f"scenes/{safe_name(scene_id)}/background.usda"


def task_file(task_id: str) -> str:
    return f"tasks/{safe_name(task_id)}.json"
