"""Branch names from the template, and the validator, checked against the real git binary."""

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitint.branchnames import EXISTING_MAX_BYTES, branch_name, clean, slug, validate_branch_name

GIT = "/usr/bin/git"
DEFAULT = "${issuekey}-${summary}"


def git_accepts(name: str, cwd) -> bool:
    """What ``git check-ref-format --branch`` says about ``name``."""
    result = subprocess.run(  # noqa: S603 - fixed binary, no shell
        [GIT, "check-ref-format", "--branch", name], cwd=cwd, capture_output=True, check=False
    )
    return result.returncode == 0


def make(summary="Fix the login page", template=DEFAULT, **kwargs):
    args = dict(
        template=template,
        separator="-",
        max_length=100,
        type_prefixes={},
        issue_key="DEV-1",
        project_key="DEV",
        summary=summary,
        issue_type="Bug",
    )
    args.update(kwargs)
    return branch_name(**args)


# ---------------------------------------------------------------- examples


def test_default_template():
    """Does the default template give KEY-slug-of-the-summary?"""
    assert make() == "DEV-1-fix-the-login-page"


def test_accents_are_transliterated_and_punctuation_collapses():
    """Are accents turned into ASCII and runs of punctuation into one separator?"""
    assert make("Ça marche pas!!  (Überprüfung)") == "DEV-1-ca-marche-pas-uberprufung"
    assert slug("  --Héllo__wörld--  ") == "hello-world"


def test_type_prefix_and_other_variables():
    """Are ${issuetype} (mapped to a prefix) and ${projectkey} filled in?"""
    name = make(
        template="${issuetype}/${projectkey}/${issuekey}_${summary}",
        separator="_",
        type_prefixes={"Bug": "bugfix", "Story": "feature"},
    )
    assert name == "bugfix/DEV/DEV-1_fix_the_login_page"
    assert make(template="${issuetype}/${issuekey}", issue_type="Sub task") == "sub-task/DEV-1"


def test_cut_at_a_separator_keeps_the_issue_key():
    """Is a long name cut (in bytes) at a separator, keeping the issue key whole?"""
    name = make("word " * 50, max_length=30)
    assert name == "DEV-1-word-word-word-word-word"
    assert len(name.encode()) <= 30
    tiny = make("a long summary", template="feature/${issuekey}-${summary}", max_length=14)
    assert tiny == "feature/DEV-1"


def test_max_length_counts_bytes():
    """Is the limit in bytes, so multi-byte characters in the template count fully?"""
    name = make("x", template="ünïcödé-${issuekey}-${summary}", max_length=20)
    assert len(name.encode()) <= 20 and validate_branch_name(name, 20) == []


def test_git_refused_characters_are_dropped():
    """Do characters git refuses in the template become separators, and bad endings go?"""
    assert (
        make("x", template="a b~c^d:e?f*g[h\\i..j/.k/${summary}.lock") == "a-b-c-d-e-f-g-h-i.j/k/x"
    )
    assert clean("-@{x}/") == "@-x}"
    assert clean("HEAD") == "" and make("", template="HEAD") == "DEV-1"
    assert make("", template="HEAD", issue_key=None) == "branch"


def test_empty_summary_leaves_no_dangling_separator():
    """With no summary, is the name just the key (no trailing separator)?"""
    assert make("!!!") == "DEV-1"


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "Enter a branch name"),
        ("a..b", "“..”"),
        ("a b", "spaces"),
        ("a~b", "~"),
        ("a\x01b", "control characters"),
        ("-a", "start with “-”"),
        ("/a", "start with “/”"),
        ("a/", "end with"),
        ("a.", "end with"),
        ("a//b", "“//”"),
        ("a/.b", "start with “.”"),
        ("a.lock/b", "“.lock”"),
        ("a@{b", "“@{”"),
        ("@", "“@”"),
        ("HEAD", "“HEAD”"),
        ("refs/heads/x", "“refs/”"),
        ("g" * 40, None),
        ("ab12" * 10, "hexadecimal"),
        ("x" * 101, "101 bytes long; the maximum is 100"),
    ],
)
def test_validator_names_the_rule(name, rule):
    """Does each broken rule come back as a sentence naming it?"""
    problems = validate_branch_name(name, 100)
    if rule is None:
        assert problems == []
    else:
        assert any(rule in p for p in problems), problems


def test_validator_accepts_ordinary_names():
    """Are ordinary branch names accepted?"""
    for name in ("DEV-1-fix", "feature/DEV-1_x", "a@b", "x.LOCK", "é/ü", "v1.2"):
        assert validate_branch_name(name) == [], name


def test_existing_branches_need_only_git_rules():
    """For a base, source or target (``new=False``): are names a host may have accepted, and
    everything git refuses still refused?"""
    for name in ("refs/x", "ab12" * 10, "x" * 300, "é/ü"):
        assert validate_branch_name(name, 100, new=False) == [], name
    for name in ("../../../../user", "a..b", "a/.b", "-a", "a b", "HEAD", "a.lock", "a@{1}", ""):
        assert validate_branch_name(name, new=False), name
    too_long = "x" * (EXISTING_MAX_BYTES + 1)
    assert validate_branch_name(too_long, new=False) == [
        f"The name is {EXISTING_MAX_BYTES + 1} bytes long; the maximum is {EXISTING_MAX_BYTES}."
    ]


# ---------------------------------------------------------------- properties

keys = st.from_regex(r"[A-Z][A-Z0-9]{0,9}-[1-9][0-9]{0,5}", fullmatch=True)
tricky = st.text(
    alphabet=st.one_of(st.sampled_from(list("-_./@{}~^:?*[\\ lockHEAD\t\x7f")), st.characters()),
    max_size=40,
)
templates = st.lists(
    st.sampled_from(["${issuekey}", "${summary}", "${projectkey}", "${issuetype}", "/", "-"])
    | tricky,
    max_size=6,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    template=templates,
    separator=st.sampled_from(["-", "_", "/", ".", " ", "~", "+", "é"]),
    max_length=st.integers(10, 200),
    key=keys,
    summary=tricky,
    issue_type=tricky,
)
def test_every_generated_name_passes_the_validator(
    template, separator, max_length, key, summary, issue_type
):
    """Whatever the template and the issue, is the generated name valid and within the limit?"""
    name = branch_name(
        template, separator, max_length, {"Bug": "bug fix"}, key, "PROJ", summary, issue_type
    )
    assert validate_branch_name(name, max_length) == [], name


@settings(max_examples=300, deadline=None)
@given(name=tricky.filter(lambda s: "\x00" not in s))
def test_validator_accepts_nothing_git_rejects(name, tmp_path_factory):
    """For arbitrary strings: when the validator says yes (for a new or an existing branch),
    does git say yes too?"""
    if not validate_branch_name(name, 200, new=False):
        assert git_accepts(name, tmp_path_factory.getbasetemp()), name


@settings(max_examples=150, deadline=None)
@given(summary=tricky, key=keys, template=templates)
def test_git_accepts_generated_names(summary, key, template, tmp_path_factory):
    """Does the real git accept every name the generator makes?"""
    name = branch_name(template, "-", 100, {}, key, "PROJ", summary, "Bug")
    assert git_accepts(name, tmp_path_factory.getbasetemp()), name


def test_git_agrees_on_the_examples(tmp_path):
    """On hand-picked names, do the validator and git agree (apart from the host limits)?"""
    for name in ("ok", "a..b", "a b", "-a", "a/", "a.", "a//b", "a/.b", "a.lock", "a@{b", "é"):
        assert (validate_branch_name(name) == []) == git_accepts(name, tmp_path), name
