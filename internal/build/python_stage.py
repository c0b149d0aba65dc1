"""Stages a Squall Python module's files for `squall build` (internal/build).

Run by internal/build with the host's CPython 3.11 (the runtime's version,
so the .pyc files it writes are the ones the runtime loads):

    python3.11 -I python_stage.py PROJECT SDK OUT DEPS_CACHE

It writes OUT/app (the project's files, each .py with its precompiled
__pycache__/*.cpython-311.pyc), OUT/site-packages (the SDK package
`squall` and the project's vendored pure-Python dependencies, compiled the
same way) and OUT/meta.json ({"entry": module}). A problem the user must fix
is printed on stderr and the exit status is 2; anything else is a bug.
"""

import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tomllib
import traceback

MOUNT = "/squall"

# Directories of a project that are not the module's code.
SKIP_DIRS = {"__pycache__", "tests", "test", "venv", "env", "node_modules", "build", "dist"}


class UserError(Exception):
    pass


def read_project(project):
    """(entry module, dependencies) from pyproject.toml, or defaults."""
    path = os.path.join(project, "pyproject.toml")
    if not os.path.exists(path):
        if not os.path.exists(os.path.join(project, "main.py")):
            raise UserError(f"{project} has neither pyproject.toml nor main.py: a Python module needs one of them")
        return "main", []
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: {e}") from None
    tool = data.get("tool", {}).get("squall", {})
    if not isinstance(tool, dict):
        raise UserError(f"{path}: [tool.squall] must be a table")
    entry = tool.get("module", "main")
    if not isinstance(entry, str) or not entry or not all(p.isidentifier() for p in entry.split(".")):
        raise UserError(f'{path}: [tool.squall] module = {entry!r}: give the dotted name of the module that declares '
                        'the squall.Module, such as "main" or "wordcount.app"')
    deps = data.get("project", {}).get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise UserError(f"{path}: [project] dependencies must be a list of strings")
    return entry, deps


def is_test_file(name):
    return name.startswith("test_") and name.endswith(".py") or name.endswith("_test.py") or name == "conftest.py"


def app_files(project):
    """The project's files (relative paths): everything but hidden files,
    tests, virtual environments, caches and build outputs."""
    out = []
    for root, dirs, files in os.walk(project):
        dirs[:] = sorted(d for d in dirs
                         if not d.startswith(".") and d not in SKIP_DIRS and not d.endswith(".egg-info")
                         and not os.path.exists(os.path.join(root, d, "pyvenv.cfg")))
        for f in sorted(files):
            if f.startswith(".") or is_test_file(f) or f.endswith((".pyc", ".wasm")):
                continue
            out.append(os.path.relpath(os.path.join(root, f), project))
    return out


def compile_file(src, dst_py, shown_as, display):
    """Copies src to dst_py and writes its .pyc, named shown_as in tracebacks;
    a syntax error is reported with display as the file name."""
    try:
        with open(src, "rb") as f:
            source = f.read()
        compile(source, display, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise UserError("".join(traceback.format_exception_only(e)).rstrip()) from None
    except (ValueError, UnicodeDecodeError) as e:  # null bytes, bad encoding
        raise UserError(f"{display}: {e}") from None
    os.makedirs(os.path.dirname(dst_py), exist_ok=True)
    with open(dst_py, "wb") as f:
        f.write(source)
    py_compile.compile(dst_py, cfile=py_cache(dst_py), dfile=shown_as, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def py_cache(py):
    d, name = os.path.split(py)
    return os.path.join(d, "__pycache__", name[:-3] + "." + sys.implementation.cache_tag + ".pyc")


def stage_tree(src_root, files, dst_root, mount_root, display_root):
    for rel in files:
        src = os.path.join(src_root, rel)
        dst = os.path.join(dst_root, rel)
        if rel.endswith(".py"):
            compile_file(src, dst, mount_root + "/" + rel.replace(os.sep, "/"), os.path.join(display_root, rel))
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)


def package_files(root):
    out = []
    for r, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for f in sorted(files):
            if not f.endswith(".pyc"):
                out.append(os.path.relpath(os.path.join(r, f), root))
    return out


def dep_name(spec):
    n = spec.strip()
    for i, c in enumerate(n):
        if not (c.isalnum() or c in "-_."):
            n = n[:i]
            break
    return n.lower().replace("_", "-")


def vendor(deps, cache):
    """Installs deps (pure-Python wheels only) into a directory cached by the
    dependency list, and returns it."""
    key = hashlib.sha256(json.dumps(sorted(deps)).encode()).hexdigest()[:20]
    target = os.path.join(cache, key)
    if os.path.exists(os.path.join(target, ".complete")):
        return target
    tmp = target + f".tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
           "--target", tmp, "--only-binary=:all:", "--platform", "any", "--implementation", "py",
           "--python-version", "3.11", *deps]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        out = (r.stderr or r.stdout).strip()
        hint = ""
        if "No matching distribution" in out or "Could not find a version" in out:
            hint = ("\nSquall Python modules can vendor only pure-Python packages (wheels tagged py3-none-any): "
                    "a package with C extensions cannot run in the WebAssembly runtime. "
                    "Remove it from [project] dependencies or use a pure-Python alternative.")
        raise UserError("vendoring the dependencies " + ", ".join(deps) + " failed:\n" + out + hint)
    shutil.rmtree(os.path.join(tmp, "bin"), ignore_errors=True)
    open(os.path.join(tmp, ".complete"), "w").close()
    os.replace(tmp, target) if not os.path.exists(target) else shutil.rmtree(tmp)
    return target


def main():
    project, sdk, out, deps_cache = sys.argv[1:5]
    entry, deps = read_project(project)
    app = os.path.join(out, "app")
    site = os.path.join(out, "site-packages")
    files = app_files(project)
    stage_tree(project, files, app, MOUNT + "/app", project)
    first = entry.split(".")[0]
    top = os.path.join(app, *entry.split("."))
    if not (os.path.exists(top + ".py") or os.path.exists(os.path.join(top, "__init__.py"))):
        raise UserError(f"{project}: the entry module {entry!r} is missing (no {entry.replace('.', '/')}.py); "
                        f'add it, or name the module that declares the squall.Module in pyproject.toml: '
                        f'[tool.squall] module = "..."')
    if first == "squall":
        raise UserError(f'{project}: the entry module may not be called "squall" (the SDK\'s name)')
    stage_tree(sdk, package_files(sdk), os.path.join(site, "squall"), MOUNT + "/site-packages/squall",
               os.path.join(sdk))
    # The SDK comes with the runtime, not from PyPI.
    deps = [d for d in deps if dep_name(d) != "squall"]
    if deps:
        vendored = vendor(deps, deps_cache)
        for name in sorted(os.listdir(vendored)):
            if name.startswith(".") or name in ("squall", "__pycache__"):
                continue
            p = os.path.join(vendored, name)
            if os.path.isdir(p):
                stage_tree(p, package_files(p), os.path.join(site, name), MOUNT + "/site-packages/" + name, p)
            elif name.endswith(".py"):
                stage_tree(vendored, [name], site, MOUNT + "/site-packages", vendored)
            else:
                os.makedirs(site, exist_ok=True)
                shutil.copyfile(p, os.path.join(site, name))
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({"entry": entry}, f)


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        print(e, file=sys.stderr)
        sys.exit(2)
