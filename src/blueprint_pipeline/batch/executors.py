"""The executors of per-item tasks live beside the pool they wrap: `resilience.executors`."""

from blueprint_pipeline.resilience.executors import (  # noqa: F401 - this package's names for them
    LocalPool,
    add_task_cpu,
    open_pool,
    pop_task_cpu_seconds,
    pop_task_nodes,
    task_cpu_seconds,
)
