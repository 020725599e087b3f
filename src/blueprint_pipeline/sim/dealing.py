"""Which task each episode of a run simulates: episodes are dealt so that every task is attempted
and the task families are balanced.

    deal(families, count) -> [Deal(task_id, slot), ...]   # one per episode, in episode order

`families` maps each simulated task, in priority order, to its family
(`geniesim.tasks.families_of`: pick_place, place_in, stack, push, open_/close_ drawer or door).

1. Every task once, the families taken in turn (the first task of each family, then the second
   of each, ...), so that a short run still covers the families before it repeats one; a run of
   fewer episodes than tasks stops there.
2. The rest one at a time to the family with the fewest episodes so far (ties: the family seen
   first), within it to its task with the fewest (ties: priority order).

A 40-episode run of a scene with 13 tasks in 8 families gets 5 episodes per family, however many
tasks a family has: a dataset of several families is balanced by family, as the multi-task
datasets robot-learning teams train on are (a family with many tasks does not crowd out a family
with one). Dealing per task instead (the rule before) gave the kitchen's single-task families 3
episodes each and pick_place 16.

`slot` is the episode's rank among its task's episodes (0 for the first). The instruction uses it
(`language.instruction`): a task's first n episodes get n different templates of its family.
An episode's task and slot depend only on the task list and the episode's index, so episode i of
a rerun is the same episode.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Deal:
    task_id: str
    slot: int  # the episode's rank among its task's episodes


def deal(families: dict[str, str], count: int) -> list[Deal]:
    """`count` episodes dealt over the tasks of `families` (task id -> family, in priority order)."""
    by_family: dict[str, list[str]] = {}
    for task_id, fam in families.items():
        by_family.setdefault(fam, []).append(task_id)
    first = [tasks[i] for i in range(max(map(len, by_family.values()), default=0))
             for tasks in by_family.values() if i < len(tasks)]
    order = first[:count]
    per_task = Counter(order)
    per_family = Counter(families[t] for t in order)
    while len(order) < count and by_family:
        fam = min(by_family, key=lambda f: per_family[f])  # ties: the first family (dict order)
        task_id = min(by_family[fam], key=lambda t: per_task[t])
        order.append(task_id)
        per_task[task_id] += 1
        per_family[fam] += 1
    seen: Counter[str] = Counter()
    out = []
    for task_id in order:
        out.append(Deal(task_id, seen[task_id]))
        seen[task_id] += 1
    return out
