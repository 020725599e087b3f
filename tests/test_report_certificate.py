"""The report's check of the episodes certificate counts kept episodes against episode files."""

from blueprint_pipeline.report.certificate import check_episodes_certificate
from blueprint_pipeline.report.inputs import ReportInputs


def _inputs(stated: int, simulated: int, kept: int, files: int) -> ReportInputs:
    return ReportInputs(
        episodes_certificate={"checks": {"success": "physics state"}, "results": {"episodes": stated}},
        episodes_summary={"episodes": simulated, "kept": kept},
        episode_metas=[{"episode_index": i} for i in range(files)],
    )


def test_failed_episodes_without_files_are_consistent():
    # 10 simulated, 2 failed and dropped: 8 files is what a correct run leaves.
    assert check_episodes_certificate(_inputs(10, 10, 8, 8))["passed"] is True


def test_missing_episode_file_is_caught():
    result = check_episodes_certificate(_inputs(10, 10, 8, 7))
    assert result["passed"] is False
    assert "keeps 8 episodes, 7 episode files" in " ".join(result["details"])


def test_certificate_disagreeing_with_summary_is_caught():
    result = check_episodes_certificate(_inputs(12, 10, 8, 8))
    assert result["passed"] is False
    assert "certificate counts 12" in " ".join(result["details"])


def test_tasks_check_counts_failed_episodes_that_left_no_file():
    from blueprint_pipeline.report.certificate import check_tasks_have_successes

    inputs = ReportInputs(
        episode_metas=[{"task_id": "pick", "success": True}],
        episode_results=[{"task_id": "pick", "success": True},
                         {"task_id": "open", "success": False, "failure_reason": "grasp_slip"}],
    )
    result = check_tasks_have_successes(inputs)
    assert result["passed"] is False
    assert "task 'open': 0 of 1 episodes succeeded" in result["details"]
