"""`pip install .` (not editable) gives a working project without the checkout: the dbt project,
seeds, migrations, templates, the classifier's model and the DAGs are package data, and the
manifest builds from the installed dbt project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minqing import config

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys
from pathlib import Path
import minqing, ingestion.contracts
from minqing import config, orchestration, warehouse
from minqing.analytics import classifier
from minqing.publishing import pages
site = Path(sys.argv[1]).resolve()
print(json.dumps({
    "package": str(Path(minqing.__file__).resolve()),
    "dbt_project": str(config.DBT_PROJECT_DIR),
    "dags": sorted(p.name for p in config.DAGS_DIR.glob("*.py")),
    "seeds": sorted(p.name for p in config.SEEDS_DIR.glob("*.csv")),
    "reference": sorted(p.name for p in config.reference_dir().glob("*.csv")),
    "selectors": (config.DBT_PROJECT_DIR / "selectors.yml").is_file(),
    "migrations": len([m for m in warehouse.migration_files()]),
    "template": (pages.TEMPLATES / "briefing.html.j2").is_file(),
    "model": classifier.MODEL_FILE.is_file(),
    "channels": sorted(ingestion.contracts.CONTRACTS),
    "manifest": str(orchestration.ensure_manifest()),
    "site": str(site),
}))
"""


@pytest.mark.slow
def test_a_non_editable_install_finds_its_dbt_project_seeds_migrations_templates_and_dags(tmp_path):
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheel_dir), str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=600)
    wheel = next(wheel_dir.glob("minqing-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, text=True, timeout=600)
    # the installed copy comes first on the path; the working directory is not the checkout
    env = {**os.environ, "PYTHONPATH": str(site), "MINQING_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", PROBE, str(site)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["package"].startswith(str(site.resolve()))
    assert found["dbt_project"] == str(site.resolve() / "minqing" / "dbt_project")
    assert found["dags"] == ["minqing_briefing.py", "minqing_daily.py"]
    assert {"issue_categories.csv", "time_limits.csv"} <= set(found["seeds"])
    assert found["reference"] == sorted(f"{name}.csv" for name in config.REFERENCE_SEEDS)  # the street's own
    assert found["selectors"] and found["template"] and found["model"]
    assert found["migrations"] == len(list((ROOT / "minqing" / "migrations").glob("*.sql")))
    assert found["channels"] == ["hotline", "miniprogram", "reception"]
    manifest = json.loads(Path(found["manifest"]).read_text(encoding="utf-8"))
    assert set(manifest["selectors"]) == {"before_forecast", "after_forecast", "before_forecast_seeds_loaded"}
    assert sum(n["resource_type"] == "model" for n in manifest["nodes"].values()) >= 30
