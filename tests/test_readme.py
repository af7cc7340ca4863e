"""The README's Python example runs as written (from the repository root)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example_runs(monkeypatch):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(ROOT)
    ns: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), ns)
    # the example's own claims
    # f-numa2 (2 nodes, 2 GiB, page_owner=on): the real kernel's figure
    assert "allocated 37748736 bytes of page_ext" in ns["m2"].dmesg
    assert ns["m2"].page_ext_bytes == 37748736
    assert ns["r"].replay_conflicts == []
