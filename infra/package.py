"""Stage the function app's deployment package: only what runs in Azure.

    python3 infra/package.py            # infra/build/app/ (azd deploys this folder)
    python3 infra/package.py --zip      # and infra/build/helpdesk.zip, for a zip deploy

azd runs it as the service's `prepackage` hook (azure.yaml), from infra/build/app, before
`azd package`, `azd up` and `azd deploy`. It refuses (exit 1, nothing staged) when the
app's own files are missing: an app without function_app.py or its packages would deploy
and answer nothing.

The repository also holds the local host, tests, benchmarks and node_modules, none of which
belongs in Azure. Flex Consumption builds remotely: it installs requirements.txt itself.
Standard library only.
"""

from __future__ import annotations

import argparse
import shutil
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "infra" / "build"
APP = BUILD / "app"
FILES = ("function_app.py", "host.json", "requirements.txt")
PACKAGES = ("functions", "shared")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")
# Served by the app but not kept in git: `make install` copies them from node_modules.
VENDORED = ("functions/static/vendor/chart.umd.min.js",)


def check_sources() -> None:
    """The app's entry point, its settings and its packages must all be there."""
    missing = [name for name in FILES if not (ROOT / name).is_file()]
    missing += [f"{name}/" for name in PACKAGES if not (ROOT / name / "__init__.py").is_file()]
    if missing:
        raise SystemExit(f"refusing to stage the app: {', '.join(missing)} missing in {ROOT} "
                         "(a package without them deploys no functions)")


def check_vendored() -> None:
    missing = [name for name in VENDORED if not (ROOT / name).is_file()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: run `make install` first "
                         "(it copies them from node_modules)")


def stage() -> Path:
    check_sources()
    check_vendored()
    for entry in APP.iterdir() if APP.exists() else ():
        if entry.name == ".gitkeep":
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    APP.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy2(ROOT / name, APP / name)
    for name in PACKAGES:
        shutil.copytree(ROOT / name, APP / name, ignore=IGNORED)
    return APP


def zip_package(folder: Path) -> Path:
    target = BUILD / "helpdesk.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != ".gitkeep":
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", action="store_true", help="also write infra/build/helpdesk.zip")
    args = parser.parse_args()
    folder = stage()
    print(f"staged {folder.relative_to(ROOT)}")
    if args.zip:
        print(f"wrote {zip_package(folder).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
