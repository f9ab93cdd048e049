"""Branch names: the integration's template → a name git and the hosts accept, and the rules.

The rules are those of ``git check-ref-format --branch`` (https://git-scm.com/docs/
git-check-ref-format) plus, for a branch about to be created, the hosts' own limits (length in
bytes, no 40-hex names that look like a commit id, no ``refs/`` prefix). Every branch name from a
form passes ``validate_branch_name`` before any host call.
"""

import re

from unidecode import unidecode

DEFAULT_SEPARATOR = "-"
REFUSED = set(" ~^:?*[\\") | {chr(c) for c in range(32)} | {"\x7f"}
HEX40 = re.compile(r"[0-9a-fA-F]{40}")
VARIABLE = re.compile(r"\$\{(issuekey|projectkey|summary|issuetype)\}", re.IGNORECASE)
EXISTING_MAX_BYTES = 1024  # a bound for a branch typed by hand (git itself sets none)


def _text(value: str | None) -> str:
    """``value`` without lone surrogates (they cannot be encoded, so no ref can hold them)."""
    return (value or "").encode("utf-8", "ignore").decode()


def slug(text: str | None, separator: str = DEFAULT_SEPARATOR) -> str:
    """``"Fix the Lögin page!"`` → ``"fix-the-login-page"``: ASCII words joined by the separator."""
    words = re.findall(r"[a-z0-9]+", unidecode(_text(text)).lower())
    return separator.join(words)


def branch_name(
    template: str,
    separator: str,
    max_length: int,
    type_prefixes: dict | None,
    issue_key: str | None,
    project_key: str | None,
    summary: str | None,
    issue_type: str | None,
) -> str:
    """The pre-filled branch name: the template filled in, cleaned, and cut to ``max_length`` bytes.

    The summary is what gets shortened (at a separator, whole words first), so the issue key that
    Jira links branches by is kept.
    """
    separator = separator if separator and separator not in REFUSED | {"."} else DEFAULT_SEPARATOR
    prefix = (type_prefixes or {}).get(issue_type or "") or slug(issue_type, separator)
    words = slug(summary, separator).split(separator) if slug(summary, separator) else []

    def fill(summary_words: list[str]) -> str:
        values = {
            "issuekey": issue_key or "",
            "projectkey": project_key or "",
            "summary": separator.join(summary_words),
            "issuetype": prefix,
        }
        filled = VARIABLE.sub(lambda m: _text(values[m.group(1).lower()]), _text(template))
        return clean(filled, separator)

    for count in range(len(words), -1, -1):  # drop trailing words until it fits
        name = fill(words[:count])
        if len(name.encode()) <= max_length:
            break
    name = name or clean(issue_key or "", separator)
    return cut(name, max_length, separator) or "branch"


def clean(name: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """Make any text a valid branch name: refused characters become the separator, runs of
    separators and slashes collapse, and no part starts with "." or ends with ".lock" or "."."""
    text = name
    while True:
        before = text
        text = _clean_once(text, separator)
        if text == before:
            break
    if text in ("@", "HEAD") or text.startswith("refs/") or HEX40.fullmatch(text):
        return ""
    return text


def _clean_once(text: str, separator: str) -> str:
    text = "".join(separator if ch in REFUSED else ch for ch in text)
    text = text.replace("@{", "@" + separator)
    text = re.sub(re.escape(separator) + "{2,}", separator, text)
    text = re.sub(r"\.{2,}", ".", text)
    parts = (part.strip(separator + ".").removesuffix(".lock") for part in text.split("/"))
    return "/".join(part for part in parts if part).lstrip("-")


def cut(name: str, max_length: int, separator: str = DEFAULT_SEPARATOR) -> str:
    """Cut ``name`` to ``max_length`` bytes, at a separator when there is one, and clean the end."""
    data = name.encode()
    if len(data) <= max_length:
        return name
    head = data[:max_length].decode(errors="ignore")
    at = max(head.rfind(separator), head.rfind("/"))
    if at > 0:
        head = head[:at]
    result = clean(head, separator)
    while len(result.encode()) > max_length:  # cleaning never grows it; this is belt and braces
        result = clean(result[:-1], separator)
    return result


def validate_branch_name(name: str, max_length: int = 200, *, new: bool = True) -> list[str]:
    """Every rule ``name`` breaks, as sentences; an empty list means git and the host accept it.

    ``new``: a name for a branch to create, with the hosts' limits and ``max_length``. Otherwise
    a branch that should exist (base, source, target): git's rules only, up to
    ``EXISTING_MAX_BYTES``.
    """
    if not name:
        return ["Enter a branch name."]
    if _text(name) != name:
        return ["The branch name contains characters that are not valid text."]
    problems = []
    if any(ch in REFUSED for ch in name):
        shown = " ".join(sorted(ch for ch in set(name) & REFUSED if ch.isprintable() and ch != " "))
        problems.append(
            "A branch name cannot contain spaces, control characters or "
            + (f"these characters: {shown}" if shown else "any of ~ ^ : ? * [ \\")
            + "."
        )
    if ".." in name:
        problems.append("A branch name cannot contain “..”.")
    if "@{" in name:
        problems.append("A branch name cannot contain “@{”.")
    if "//" in name:
        problems.append("A branch name cannot contain “//”.")
    if name.startswith("-"):
        problems.append("A branch name cannot start with “-”.")
    if name.startswith("/"):
        problems.append("A branch name cannot start with “/”.")
    if name.endswith(("/", ".")):
        problems.append("A branch name cannot end with “/” or “.”.")
    parts = name.split("/")
    if any(part.startswith(".") for part in parts):
        problems.append("No part of a branch name (between “/”) can start with “.”.")
    if any(part.endswith(".lock") for part in parts):
        problems.append("No part of a branch name (between “/”) can end with “.lock”.")
    if name in ("@", "HEAD"):
        problems.append(f"A branch cannot be named “{name}”.")
    if new and name.startswith("refs/"):
        problems.append("A branch name cannot start with “refs/”.")
    if new and HEX40.fullmatch(name):
        problems.append(
            "A branch name cannot be 40 hexadecimal characters (it looks like a commit)."
        )
    limit = max_length if new else EXISTING_MAX_BYTES
    size = len(name.encode())
    if size > limit:
        problems.append(f"The name is {size} bytes long; the maximum is {limit}.")
    return problems
