"""The service side never imports torch: app/ modules load with torch made unimportable."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for p in (ROOT / "app").rglob("*.py")
    if p.name != "__init__.py"
)

BLOCK_TORCH = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "models"):
            raise ImportError(f"the service must not import {name}")
sys.meta_path.insert(0, Block())
import importlib
for module in sys.argv[1:]:
    importlib.import_module(module)
"""


def test_app_imports_neither_torch_nor_models() -> None:
    assert APP_MODULES, "no app modules found"
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH, *APP_MODULES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
