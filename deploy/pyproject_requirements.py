"""Print the requirements of bonefrac's base install plus chosen extras, one per line, for image builds.

Images install dependencies from this list before the source is copied (a cached layer that changes only when
pyproject.toml does), and can leave out packages a given image does not need (the API image drops streamlit).
Standard library only: it runs in the bare base image before anything is installed.

    python3 deploy/pyproject_requirements.py --extras serve,postgres --exclude streamlit
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement string ('uvicorn[standard]>=0.27' -> 'uvicorn')."""
    match = _NAME.match(requirement)
    if match is None:
        raise ValueError(f"not a requirement string: {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def collect(pyproject: Path, extras: list[str], exclude: set[str]) -> list[str]:
    """Base dependencies plus each extra (self-references like 'bonefrac[api]' expanded), minus exclusions."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    own_name = requirement_name(project["name"])
    optional = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise ValueError(f"unknown extra(s) {unknown}; pyproject.toml defines {sorted(optional)}")
    wanted = {requirement_name(name) for name in exclude}
    result: list[str] = []
    pending = list(project.get("dependencies", []))
    for extra in extras:
        pending.extend(optional[extra])
    seen_extras = set(extras)
    while pending:
        requirement = pending.pop(0)
        name = requirement_name(requirement)
        if name == own_name:
            inner = re.search(r"\[([^\]]+)\]", requirement)
            for extra in inner.group(1).split(",") if inner else []:
                extra = extra.strip()
                if extra not in seen_extras:
                    seen_extras.add(extra)
                    pending.extend(optional.get(extra, []))
            continue
        if name in wanted or requirement in result:
            continue
        result.append(requirement)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--extras", default="", help="comma-separated extras, e.g. serve,postgres")
    parser.add_argument("--exclude", default="", help="comma-separated distribution names to leave out")
    args = parser.parse_args(argv)
    extras = [e.strip() for e in args.extras.split(",") if e.strip()]
    exclude = {e.strip() for e in args.exclude.split(",") if e.strip()}
    try:
        requirements = collect(args.pyproject, extras, exclude)
    except (OSError, KeyError, ValueError) as error:
        sys.stderr.write(f"pyproject_requirements: {error}\n")
        return 2
    sys.stdout.write("".join(f"{line}\n" for line in requirements))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
