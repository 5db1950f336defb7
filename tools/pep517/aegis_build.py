"""PEP 517 build backend: `pip install /path/to/aegis-sandbox` in a venv.

It builds the C programs with the project's own autotools build, against
the interpreter pip runs in (the venv's, whose torch the zygote embeds), and
installs them under the venv's prefix: aegis-sandbox in bin/, aegis-zygote
in libexec/, the trusted helpers, policies and man pages in share/, the
client package in site-packages.  configure.ac is the one source of the
version; configure --prefix is the one source of every path, so the
installed programs find each other exactly as after `make install`.

Torch is not a dependency of the package: pip would fetch a CUDA build of
several GB.  Install the torch you want first (pip install torch==2.13.0);
the build embeds whatever this environment has and says so if it has none.
"""

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIST = "aegis_sandbox"
SUMMARY = "Run machine-generated PyTorch model code in a confined sandbox and judge it"
# what a source distribution holds besides the tracked files: autotools'
# output, so that building from it needs no autoreconf
GENERATED = ("configure", "Makefile.in", "aclocal.m4", "config.h.in", "build-aux")


def _version():
    with open(os.path.join(ROOT, "configure.ac"), encoding="utf-8") as f:
        m = re.search(r"AC_INIT\(\[aegis-sandbox\],\s*\[([^\]]+)\]", f.read())
    if not m:
        raise RuntimeError("configure.ac has no AC_INIT version")
    return m.group(1)


def _env():
    """The environment without pip's build isolation: configure must see
    the venv's own site-packages (its torch), not the isolated overlay."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE"):
        env.pop(key, None)
    return env


def _run(argv, cwd):
    print("aegis-sandbox build:", " ".join(argv), file=sys.stderr, flush=True)
    subprocess.run(argv, cwd=cwd, env=_env(), check=True, stdout=sys.stderr)


def _metadata():
    readme = ""
    try:
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            readme = f.read()
    except OSError:
        pass
    return ("Metadata-Version: 2.1\nName: aegis-sandbox\nVersion: %s\nSummary: %s\n"
            "License: Apache-2.0\nClassifier: License :: OSI Approved :: Apache Software License\n"
            "Classifier: Operating System :: POSIX :: Linux\nRequires-Python: >=3.8\n"
            "Description-Content-Type: text/markdown\n\n%s" % (_version(), SUMMARY, readme))


def _tag():
    impl = "cp%d%d" % sys.version_info[:2]
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return "%s-%s-%s" % (impl, impl, plat)


def _source_files():
    """The files of a source distribution: what git tracks (or, building
    from an unpacked sdist, every file), plus autotools' output."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
        files = [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(ROOT):
            dirs[:] = [x for x in dirs if x not in (".git", "__pycache__")]
            files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
    for g in GENERATED:
        p = os.path.join(ROOT, g)
        if os.path.isdir(p):
            files += [os.path.relpath(os.path.join(d, n), ROOT) for d, _, ns in os.walk(p) for n in ns]
        elif os.path.isfile(p):
            files.append(g)
    return sorted(set(f for f in files if os.path.isfile(os.path.join(ROOT, f))))


def _copy_source(dst):
    for f in _source_files():
        os.makedirs(os.path.join(dst, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(dst, f))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = "%s-%s.dist-info" % (DIST, _version())
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    with open(os.path.join(metadata_directory, info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata())
    return info


def _check_torch():
    p = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"], env=_env(),
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("aegis-sandbox embeds the torch of the environment it is installed into, and "
                           "%s cannot import torch.  Install torch first, e.g. "
                           "'pip install torch==2.13.0' (the CPU build), then install aegis-sandbox."
                           % sys.executable)
    return p.stdout.strip()


def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """pip install -e: the C programs are built and installed as for a
    wheel (there is nothing to edit in place in a compiled program); the
    Python packages are the checkout's.  A .pth file puts the checkout's
    pyhelpers/ first on sys.path and, in processes that import site, names
    the venv's program (AEGIS_SANDBOX) and the checkout's trusted helpers
    (AEGIS_PYHELPERS), so an edit to aegis_sandbox or aegis_job takes
    effect at the next run from Python.  The command line keeps using the
    installed helpers (reinstall to change them)."""
    return build_wheel(wheel_directory, config_settings, metadata_directory, editable=True)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None, editable=False):
    version, prefix = _version(), sys.prefix
    purelib = sysconfig.get_paths()["purelib"]
    torch_version = _check_torch()
    print("aegis-sandbox build: for %s (torch %s) under %s" % (sys.executable, torch_version, prefix),
          file=sys.stderr)
    work = tempfile.mkdtemp(prefix="aegis-build-")
    try:
        src, stage = os.path.join(work, "src"), os.path.join(work, "stage")
        _copy_source(src)
        if not os.path.exists(os.path.join(src, "configure")):
            if not shutil.which("autoreconf"):
                raise RuntimeError("building from a checkout needs autoconf, automake and pkg-config "
                                   "(apt-get install autoconf automake pkg-config), or build from a "
                                   "release tarball")
            _run(["autoreconf", "-fi"], src)
        _run(["./configure", "--prefix=" + prefix, "PYTHON=" + sys.executable,
              "--with-python-sitedir=" + purelib], src)
        _run(["make", "-j%d" % (os.cpu_count() or 1)], src)
        _run(["make", "install", "DESTDIR=" + stage], src)
        return _pack_wheel(wheel_directory, os.path.join(stage, prefix.lstrip("/")), prefix, purelib, version,
                           editable)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pack_wheel(wheel_directory, root, prefix, purelib, version, editable=False):
    """Files installed under ROOT (the staged PREFIX) into a wheel: the
    client package at the wheel's top, bin/ as scripts, the rest as data
    under the prefix."""
    tag = _tag()
    name = "%s-%s-%s.whl" % (DIST, version, tag)
    info = "%s-%s.dist-info" % (DIST, version)
    data = "%s-%s.data" % (DIST, version)
    pure_rel = os.path.relpath(purelib, prefix)
    records = []

    def add(zf, arcname, path=None, text=None):
        if path is not None:
            with open(path, "rb") as f:
                blob = f.read()
            mode = os.stat(path).st_mode
        else:
            blob, mode = text.encode("utf-8"), 0o644
        zi = zipfile.ZipInfo(arcname, date_time=(2026, 1, 1, 0, 0, 0))
        zi.external_attr = (0o100000 | (mode & 0o777)) << 16
        zi.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(zi, blob)
        records.append("%s,%s,%d" % (arcname, _record_hash(blob), len(blob)))

    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for d, _, files in os.walk(root):
            for fn in sorted(files):
                path = os.path.join(d, fn)
                rel = os.path.relpath(path, root)
                if rel.startswith(pure_rel + os.sep):
                    arc = os.path.relpath(rel, pure_rel)
                    if editable and arc.split(os.sep)[0] == "aegis_sandbox":
                        continue  # the checkout's, through the .pth below
                elif rel.startswith("bin" + os.sep):
                    arc = "%s/scripts/%s" % (data, os.path.relpath(rel, "bin"))
                else:
                    arc = "%s/data/%s" % (data, rel)
                add(zf, arc.replace(os.sep, "/"), path=path)
        if editable:
            helpers = os.path.join(ROOT, "pyhelpers")
            add(zf, "aegis_sandbox_editable.pth",
                text="%s\nimport os; os.environ.setdefault('AEGIS_SANDBOX', %r); "
                     "os.environ.setdefault('AEGIS_PYHELPERS', %r)\n"
                     % (helpers, os.path.join(prefix, "bin", "aegis-sandbox"), helpers))
        add(zf, info + "/METADATA", text=_metadata())
        add(zf, info + "/WHEEL", text="Wheel-Version: 1.0\nGenerator: aegis_build\nRoot-Is-Purelib: false\n"
                                      "Tag: %s\n" % tag)
        with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as f:
            add(zf, info + "/LICENSE", text=f.read())
        records.append(info + "/RECORD,,")
        zf.writestr(zipfile.ZipInfo(info + "/RECORD", date_time=(2026, 1, 1, 0, 0, 0)),
                    "\n".join(records) + "\n")
    return name


def build_sdist(sdist_directory, config_settings=None):
    version = _version()
    base = "%s-%s" % (DIST, version)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for f in _source_files():
            tf.add(os.path.join(ROOT, f), arcname="%s/%s" % (base, f), recursive=False)
        meta = _metadata().encode("utf-8")
        ti = tarfile.TarInfo("%s/PKG-INFO" % base)
        ti.size = len(meta)
        ti.mode = 0o644
        import io
        tf.addfile(ti, io.BytesIO(meta))
    return name
