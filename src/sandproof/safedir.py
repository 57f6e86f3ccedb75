"""Directories opened as root without another user's hand in them: each part of a path opened
without following a link (a link on the way followed only when root or the caller owns it),
and every directory on the way one no other user can change (``refuse_shared``), then used
through its fd. ``render --in/--out`` writes through them; ``cache prune`` removes through them.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sandproof.errors import OutputError


class Unreachable(OutputError):
    """The path cannot be opened as a directory (missing, a file, no permission): not a refusal
    of someone else's directory, which is a plain OutputError."""


# Every directory render writes into is opened without following a link and checked, then
# written through its fd (``/proc/self/fd/N``: the very directory checked, whatever is renamed
# meanwhile). Review 16: as root, render wrote the seccomp file beside --in=/tmp/in through a
# link another user planted in /tmp (this host: fs.protected_symlinks=0), and wrote and chmod'ed
# in an --in another user owned, racing with them.
DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
LINK = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40  # path_resolution(7): ELOOP past 40 links


def proc(fd: int) -> Path:
    return Path(f"/proc/self/fd/{fd}")


def ours(uid: int) -> bool:
    return uid in (0, os.geteuid())


def walk(path: Path, option: str, *, create: bool) -> int:
    """An fd of the directory ``path``, each part opened without following a link; a link on
    the way (not the last part) is followed only when root or the caller owns it, as
    fs.protected_symlinks=1 would in a sticky directory (this host has 0). Missing parts are
    made when ``create``. Every directory on the way must be one no other user can change
    (``refuse_shared``): whoever owns one could rename what render made below it and put
    their own there, under the names the printed command gives (review 17: a seccomp file of
    theirs loaded for the root who runs it); nothing is made in one that is refused."""
    # the root directory is taken as it is: whoever owns it owns every path (this VM's is uid
    # 65532's), and refusing it would refuse every render
    fd = os.open("/", DIR)
    parts, links, seen = list(path.parts[1:]), 0, Path("/")
    try:
        while parts:
            name = parts.pop(0)
            try:
                nxt = os.open(name, DIR, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=fd)
                parts.insert(0, name)
                continue
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                link = os.open(name, LINK, dir_fd=fd)
                try:
                    st = os.fstat(link)
                    if not stat.S_ISLNK(st.st_mode):
                        raise
                    if links >= _MAX_LINKS:
                        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
                    if not ours(st.st_uid):
                        raise OutputError(
                            f"{option} {path}: the link {name} on the way is owned by uid {st.st_uid}, another "
                            "user, who could point it anywhere; give the path without it"
                        ) from None
                    target = os.readlink("", dir_fd=link)  # the link this fd holds, not one put there since
                finally:
                    os.close(link)
                links += 1
                parts[:0] = [p for p in target.split("/") if p]
                if target.startswith("/"):
                    os.close(fd)
                    fd, seen = os.open("/", DIR), Path("/")
                continue
            os.close(fd)
            fd, seen = nxt, seen / name
            refuse_shared(fd, option, seen, above=path)
    except OutputError:
        os.close(fd)
        raise
    except OSError as exc:
        os.close(fd)
        raise Unreachable(f"{option} {path}: cannot open it ({exc.strerror or exc}); give a directory") from None
    return fd


def refuse_shared(
    fd: int,
    option: str,
    where: Path,
    *,
    owner: int | None = None,
    above: Path | None = None,
    sticky_ok: bool = True,
) -> None:
    """A directory another user owns, or others may write without the sticky bit, is refused:
    they could swap what sandproof writes there for a link between two of its calls. ``above``:
    ``where`` is a directory on the way to that path (said so). ``sticky_ok=False``: a
    directory sandproof fills by name, where others may make the names first even when it is
    sticky (review 20: a cache in /tmp), must be writable by no one else at all. Group write
    is others' write unless the group is the owner's own private group (umask 002 systems)."""
    st = os.fstat(fd)
    said = f"{option} {above}: {where} on the way is" if above is not None and where != above else f"{option} {where}:"
    if not ours(st.st_uid) and st.st_uid != owner:
        raise OutputError(
            f"{said} owned by uid {st.st_uid}, another user, who could swap what sandproof writes there; "
            f"give a directory root or you own{_sudo_hint(st.st_uid)}"
        )
    shared = st.st_mode & 0o002 or (st.st_mode & 0o020 and not _private_group(fd, st))
    if shared and (not st.st_mode & stat.S_ISVTX or not sticky_ok):
        why = (
            "without the sticky bit"
            if not st.st_mode & stat.S_ISVTX
            else "and sticky, but sandproof makes names in it that others could make first"
        )
        raise OutputError(
            f"{said} writable by other users (mode {stat.S_IMODE(st.st_mode):o}) {why}, who could swap what "
            "sandproof writes there; chmod go-w it, or give another directory"
        )


def _private_group(fd: int, st: os.stat_result) -> bool:
    """Whether the directory's group write is its owner's alone: a non-root caller's own
    directory, in the caller's own primary group (umask 002 with user-private groups), with
    no ACL (review 21: an ACL's mask shows as the group bits, so a named user's write looked
    like the group's; the group database does not bound who holds a gid, so root's directories
    never get this)."""
    if st.st_uid != os.geteuid() or st.st_uid == 0 or st.st_gid != os.getegid():
        return False
    try:
        os.getxattr(fd, "system.posix_acl_access")
    except OSError:  # ENODATA: no ACL; ENOTSUP: none possible
        pass
    else:
        return False
    try:
        members = set(grp.getgrgid(st.st_gid).gr_mem)
    except KeyError:  # the caller's primary gid with no group entry: no one lists it
        return True
    with contextlib.suppress(KeyError):  # the caller may be listed in its own group
        members.discard(pwd.getpwuid(st.st_uid).pw_name)
    return not members


def _sudo_hint(uid: int) -> str:
    if os.geteuid() == 0 and os.environ.get("SUDO_UID") == str(uid):
        return " (under sudo, your own directory is another user's to root: give one of root's, or run as yourself)"
    return ""


@contextlib.contextmanager
def opened(path: Path, option: str, *, create: bool) -> Iterator[int]:
    """The directory ``path`` checked (``walk`` holds each directory on the way and the last to
    ``refuse_shared``; ``/`` as it is), as an fd closed after."""
    fd = walk(path, option, create=create)
    try:
        yield fd
    finally:
        os.close(fd)


def check(path: Path, option: str, *, create: bool, sticky_ok: bool = True) -> None:
    """Refuse ``path`` (made when ``create``) unless it and every directory on the way are
    root's or this user's, none writable by others without the sticky bit: after that no other
    user can rename or replace anything on it, and the path may be used by name (review 19:
    every output option, the cache)."""
    fd = walk(path.absolute(), option, create=create)  # each directory held to refuse_shared there
    try:
        if not sticky_ok and path.absolute() != Path("/"):  # a directory filled by name: stricter
            refuse_shared(fd, option, path, sticky_ok=False)
    finally:
        os.close(fd)


def check_nearest(path: Path, option: str) -> None:
    """``check`` of ``path``, or of its nearest ancestor that is there, making nothing: what a
    command will make later (after its own refusals) is then made in a directory no other user
    can change."""
    at = path.absolute()
    while not os.path.lexists(at) and at != at.parent:
        at = at.parent
    check(at, option, create=False)


_TEMP_CHECKED: set[str] = set()


def check_tempdir() -> None:
    """The temporary directory (``TMPDIR``) and every directory on the way root's or this
    user's, or sticky (``/tmp``): in another user's, they could rename a new scratch directory
    away and put a link in its place, or swap an image archive before ``docker load`` (review
    19, 20). Once per process and directory: every command runs it first (``cli.main``)."""
    top = tempfile.gettempdir()
    if top not in _TEMP_CHECKED:
        check(Path(top), "the temporary directory (TMPDIR)", create=False)
        _TEMP_CHECKED.add(top)


def own_private(where: Path) -> str | None:
    """``where`` made 0700, or why it is not this user's own private directory (not a
    directory, a link, another's, open to others): a fixed name in a world-writable directory
    another user may have made first. None when it is ours alone."""
    try:
        os.mkdir(where, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        return f"cannot make it ({exc.strerror})"
    st = os.lstat(where)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o077:
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a directory"
        return f"not this user's own (owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}, {kind})"
    return None
