import subprocess
import sys

from neurolrp.cli import main


def test_help_lists_commands(capsys):
    try:
        main(["--help"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    assert "demo" in out


def test_console_script_is_installed():
    res = subprocess.run([sys.executable, "-m", "neurolrp.cli", "demo", "--help"],
                         capture_output=True, text=True)
    assert res.returncode == 0 and "--out" in res.stdout
