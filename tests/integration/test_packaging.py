"""What `pip install xstream` carries: the product, its topic specs, and neither the emulators nor the
embedded broker (those come with ``xstream[demo]``, the ``xstream-emulators`` distribution)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("project", "must", "never"), [
    (ROOT, ["xstream/app.py", "xstream/_topics/xstream.status.yaml"], ["xstream_emulators/", "calfkit"]),
    (ROOT / "emulators", ["xstream_emulators/embedded.py", "xstream_emulators/opentext/app.py"], ["xstream/"]),
])
def test_each_distribution_carries_only_its_own_package(tmp_path: Path, project: Path, must: list[str],
                                                        never: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(project)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    for path in must:
        assert path in names, f"{wheel.name} lacks {path}"
    for prefix in never:
        assert not any(n.startswith(prefix) for n in names), f"{wheel.name} carries {prefix}"
    if project == ROOT:
        requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
        assert not any("calfkit" in r or "xstream-emulators" in r for r in requires if "extra ==" not in r)
        assert any("xstream-emulators" in r and "extra == 'demo'" in r for r in requires)
