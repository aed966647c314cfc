"""Writing files and folders so that a killed run never leaves half of one.

Every file neurolrp writes goes through here: it is written under a
temporary name in the same folder and renamed into place (one atomic rename
on a local or shared POSIX file system), and an existing output is replaced
only when the caller says so (``overwrite=True``, MNE's convention).

- :func:`check_output_file` and :func:`check_output_folder` check, before
  any work, that an output may be written there;
- :func:`atomic_file` and :func:`atomic_folder` write to a temporary name
  beside the target and rename it into place;
- :func:`write_bytes_atomic` writes bytes that way (the study's reports and
  table).
"""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from ._checks import check_bool


def check_output_file(fname, overwrite, what="file"):
    """Return ``fname`` as a Path after checking it may be written.

    Raises
    ------
    TypeError
        ``fname`` is not path-like or ``overwrite`` not a bool.
    FileExistsError
        It exists and ``overwrite`` is False.
    IsADirectoryError
        It is a folder.
    FileNotFoundError
        Its folder does not exist.
    """
    if not isinstance(fname, (str, os.PathLike)):
        raise TypeError(f"fname must be a path, got {type(fname).__name__}.")
    check_bool(overwrite, "overwrite")
    fname = Path(fname).expanduser()
    if fname.is_dir():
        raise IsADirectoryError(f"{fname} is a folder; give a file name.")
    if fname.exists() and not overwrite:
        raise FileExistsError(f"{fname} exists; pass overwrite=True to replace it.")
    if not fname.parent.is_dir():
        raise FileNotFoundError(f"The folder of {fname} does not exist; create it first.")
    return fname


@contextlib.contextmanager
def atomic_file(fname):
    """Yield a temporary path beside ``fname``; rename it into place on success.

    The temporary file lives in the same folder (so the rename is atomic on
    the same file system) and is removed when the block fails. A process
    killed mid-write leaves the old ``fname`` untouched (and a hidden
    ``.<name>.*.tmp`` beside it).
    """
    fname = Path(fname)
    fd, tmp = tempfile.mkstemp(prefix=f".{fname.name}.", suffix=".tmp", dir=fname.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, fname)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync(path):
    try:
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    except OSError:  # some file systems do not support it; the rename still protects
        pass


def check_output_folder(out_dir, overwrite, ours):
    """Return ``out_dir`` as a Path after checking a result folder may go there.

    A missing or empty folder is fine. A non-empty one is an error unless
    ``overwrite`` is True, and even then only when it holds nothing but the
    files neurolrp writes there (``ours``), so nothing else a user saved is
    ever deleted.

    Raises
    ------
    NotADirectoryError
        ``out_dir`` is a file.
    FileExistsError
        Non-empty without ``overwrite``, or holding other files.
    """
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a path, got {type(out_dir).__name__}.")
    check_bool(overwrite, "overwrite")
    out_dir = Path(out_dir).expanduser()
    if out_dir.is_symlink():
        raise ValueError(f"{out_dir} is a symbolic link; give the folder it points to.")
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} is a file, not a folder; choose another output "
                                 "folder.")
    if out_dir.is_dir():
        here = Path.cwd().resolve()
        if out_dir.resolve() == here or out_dir.resolve() in here.parents:
            raise ValueError(f"{out_dir} is the current folder (or holds it); the report folder "
                             "is replaced as a whole, so name a folder inside it, e.g. "
                             "'report'.")
        present = sorted(p.name for p in out_dir.iterdir())
        if present and not overwrite:
            raise FileExistsError(f"{out_dir} is not empty ({', '.join(present[:5])}"
                                  f"{'...' if len(present) > 5 else ''}); pass overwrite=True "
                                  "(--overwrite) to replace it, or choose another folder.")
        foreign = [p for p in present if p not in ours]
        if foreign:
            raise FileExistsError(
                f"{out_dir} holds files neurolrp did not write there ({', '.join(foreign[:5])}"
                f"{'...' if len(foreign) > 5 else ''}); it is not replaced even with overwrite. "
                "Choose another folder."
            )
    return out_dir


@contextlib.contextmanager
def atomic_folder(out_dir):
    """Yield a temporary folder beside ``out_dir``; swap it into place on success.

    The old folder (if any) is renamed aside, the new one renamed into place,
    then the old one deleted: a reader sees the old folder or the new one,
    never a mix, and a run that fails or is killed leaves the old folder as
    it was (a kill leaves a hidden ``.<name>.*.tmp`` folder beside it). The
    temporary folder is created on entry, so an unwritable place fails before
    any work.
    """
    out_dir = Path(os.path.abspath(out_dir))
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=parent))
    except OSError as err:
        raise PermissionError(f"Cannot write the output folder {out_dir}: {err.strerror or err}."
                              ) from None
    try:
        yield tmp
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=parent))
            os.replace(out_dir, old)  # old is an empty folder: replaced by out_dir
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_bytes_atomic(path, data):
    """Write ``data`` to ``path`` through :func:`atomic_file`, creating its folder.

    Parameters
    ----------
    path : path-like
        The file; an existing one is replaced (callers decide whether it may be).
    data : bytes
        What the file holds.

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return path
