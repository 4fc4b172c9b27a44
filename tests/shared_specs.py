"""Where the tests find the shared specifications (``../shared/`` beside the repository: the
official Open Referral UK schemas under ``standards/``, DESIGN.md, FORMATS.md). The path is relative
to the repository, never an absolute one of this machine; when the tests run in a git worktree,
"the repository" is its main checkout, found through the worktree's ``.git`` file."""

from __future__ import annotations

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def main_checkout(repository: Path = REPOSITORY) -> Path:
    """The repository's main checkout: itself, or for a worktree (whose ``.git`` is a file saying
    ``gitdir: MAIN/.git/worktrees/NAME``) the folder MAIN."""
    git = repository / ".git"
    if git.is_file():
        gitdir = Path(git.read_text().split("gitdir:", 1)[1].strip())
        if not gitdir.is_absolute():
            gitdir = (repository / gitdir).resolve()
        if gitdir.parent.name == "worktrees":
            return gitdir.parents[2]
    return repository


SHARED = main_checkout() / ".." / "shared"
STANDARDS = SHARED / "standards"
