"""Genie Sim 3.x export: the `geniesim` stage.

    records.py        TaskConfig / TaskSpec / GoalRegion / RobotPlacement (read by the episodes stage)
    spatial_index.py  candidate pairs from a uniform grid over footprints
    relations.py      on / in / adjacent / aligned, explicit manifest relationships first
    scene_graph.py    scene_graph.json          asset_index.py, embedders.py   asset_index.json
    tasks.py          task suggestion           robots.py, placement.py        robot base poses
    export.py         build and write everything (stage.py is the stage function)
    native/           Genie Sim's own asset and task files, and `blueprint geniesim check`
    synthetic.py      scenes and physics for tests and the benchmark
"""
