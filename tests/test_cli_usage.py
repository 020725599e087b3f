"""Usage errors (missing argument, unknown command or option) exit 2 without a traceback."""

import subprocess
import sys

import pytest

from blueprint_pipeline.cli import main


@pytest.mark.parametrize(
    "argv",
    [["validate"], ["no-such-command"], ["validate", "--no-such-option", "x.json"], ["run", "x.json"]],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "internal error" not in err


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "validate" in capsys.readouterr().out


def test_usage_error_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "blueprint_pipeline.cli", "validate"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Missing argument" in proc.stderr
    assert "Traceback" not in proc.stderr
