"""The tests find the shared specifications relative to the repository, from a main checkout or a
git worktree alike."""

from __future__ import annotations

from tests.shared_specs import STANDARDS, main_checkout


def test_a_main_checkout_is_its_own_repository(tmp_path):
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    assert main_checkout(tmp_path / "repo") == tmp_path / "repo"


def test_a_worktree_leads_to_its_main_checkout(tmp_path):
    worktree = tmp_path / "wt" / "branch"
    worktree.mkdir(parents=True)
    (worktree / ".git").write_text(f"gitdir: {tmp_path / 'main' / '.git' / 'worktrees' / 'branch'}\n")
    assert main_checkout(worktree) == tmp_path / "main"


def test_the_official_open_referral_schemas_are_found():
    assert (STANDARDS / "oruk-3.0" / "schema" / "compiled" / "service.json").is_file()
