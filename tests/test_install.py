"""``pip install`` (not editable) into a fresh virtual environment, then a reader's rerun of a chapter from
a folder outside the repository: the templates ship in the package, nothing assumes the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat

from nbsrc.chapters import DATASET_PARAMETERS, SMOKE_PARAMETERS, TEMPLATES

REPO = Path(__file__).resolve().parents[1]


def run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_installed_package_reruns_a_chapter_outside_the_repository(tmp_path):
    # The project's distribution files only (a copy, so that building leaves no trace in the checkout).
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "nbsrc", source / "nbsrc", ignore=shutil.ignore_patterns("__pycache__"))
    # A wheel built as `pip install .` builds it (offline: the project's setuptools, no isolation) ...
    wheels = tmp_path / "wheels"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), "-q"]
        + [str(source)],
        timeout=120,
    )
    (wheel,) = wheels.glob("nbsrc-*.whl")
    # ... installed, without its dependencies, into a fresh venv that does not see the system's packages.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120)
    python = venv / "bin" / "python"
    run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q"]
        + [str(wheel)],
        timeout=120,
    )
    # The dependencies: the project environment's site-packages, seen through a .pth file (added after
    # the install, so that pip never sees the project's own editable nbsrc).
    site = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], 60
        ).stdout.strip()
    )
    project_site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "project-dependencies.pth").write_text("\n".join(sorted(project_site)) + "\n")
    # every template the repository has, shipped with the package (and at least the dataset template)
    shipped = sorted(p.name for p in (site / "nbsrc" / "templates").glob("*.ipynb"))
    assert shipped == sorted(p.name for p in TEMPLATES.glob("*.ipynb")) and "dataset.ipynb" in shipped

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env["PATH"] = os.pathsep.join(
        [str(venv / "bin")]
        + [
            p
            for p in env.get("PATH", "").split(os.pathsep)
            if Path(p).resolve() != Path(sys.executable).parent
        ]
    )
    where = run(
        [str(python), "-c", "import nbsrc, papermill; print(nbsrc.__file__)"], 120, cwd=elsewhere, env=env
    )
    # the installed copy, not the checkout
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    # The smoke parameters of the book's tests, so that after them the trained network and curves come
    # from the cache (keyed by configuration, data and code version, not by where nbsrc is installed).
    output = tmp_path / "x.ipynb"
    command = [str(venv / "bin" / "nbsrc"), "chapter", "mnist", "--output", str(output)]
    for name, value in SMOKE_PARAMETERS.items():
        command += [f"--{name.replace('_', '-')}", json.dumps(value)]
    run(command, timeout=900, cwd=elsewhere, env=env)

    notebook = nbformat.read(output, as_version=4)
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    assert notebook.cells[0].source.startswith("# MNIST")
    record = notebook.metadata["nbsrc"]["record"]
    assert record["parameters"] == {**DATASET_PARAMETERS, **SMOKE_PARAMETERS, "dataset": "mnist"}
    assert record["commit"] is None  # not run from a checkout
    for tag in ("parameters", "injected-parameters"):
        cell = next(c for c in notebook.cells if tag in c.metadata.get("tags", []))
        assert "remove-cell" in cell.metadata["tags"]
    assert notebook.metadata["kernelspec"]["name"] == "python3"
