"""Integration settings rules: which fields each provider kind needs, the feature settings
(branch name template, separator, length, type → prefix map), and checking the integration
account's credential against the host before it is stored."""

import re

from . import hosts
from .crypto import seal
from .models import Integration, utcnow
from .providers.base import Identity, MissingScope

KIND_LABELS = {
    "github": "GitHub (github.com)",
    "github_enterprise": "GitHub Enterprise Server",
    "gitlab": "GitLab (gitlab.com)",
    "gitlab_self_managed": "GitLab self-managed",
    "azure_devops": "Azure DevOps (dev.azure.com)",
    "vsts": "Azure DevOps (visualstudio.com)",
    "tfs": "Azure DevOps Server / TFS",
    "codecommit": "AWS CodeCommit",
}
# The host fields each kind needs (all of them required).
KIND_FIELDS = {
    "github": (),
    "github_enterprise": ("base_url",),
    "gitlab": (),
    "gitlab_self_managed": ("base_url",),
    "azure_devops": ("organization",),
    "vsts": ("organization",),
    "tfs": ("base_url", "server_version"),
    "codecommit": ("region",),
}
HOST_FIELDS = ("kind", "base_url", "organization", "region", "server_version")
SERVER_VERSIONS = {
    "2013": "TFS 2013",
    "2015": "TFS 2015",
    "2017": "TFS 2017",
    "2018": "TFS 2018",
    "2019": "Azure DevOps Server 2019",
    "2020": "Azure DevOps Server 2020",
    "2022": "Azure DevOps Server 2022",
}
NO_PAT_VERSIONS = ("2013", "2015")  # TFS before 2017 has no personal access tokens
SYNC_EVERY = {  # "Sync every": hours → label (gitint/sync.py schedules them; 0 is off)
    0: "Off (only when asked)",
    1: "1 hour",
    3: "3 hours",
    6: "6 hours",
    12: "12 hours",
    24: "day",
    48: "2 days",
    168: "week",
}

TEMPLATE_VARIABLES = ("issuekey", "projectkey", "summary", "issuetype")
SEPARATORS = ("-", "_", ".", "/")
MIN_LENGTH, MAX_LENGTH = 10, 200
PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,49}$")


def tfs_without_pats(integration) -> bool:
    """TFS 2013/2015: no PATs, so Require User PAT makes branch and PR creation unavailable."""
    return integration.kind == "tfs" and integration.server_version in NO_PAT_VERSIONS


def template_problem(template: str) -> str | None:
    """Why a branch name template is unusable, or None when it is fine."""
    template = template or ""
    if not template.strip():
        return "Enter a template, e.g. ${issuekey}-${summary}."
    if len(template) > MAX_LENGTH:
        return f"The template can be at most {MAX_LENGTH} characters."
    names = re.findall(r"\$\{([^}]*)\}", template)
    for name in names:
        if name not in TEMPLATE_VARIABLES:
            known = ", ".join("${" + v + "}" for v in TEMPLATE_VARIABLES)
            return f"Unknown variable ${{{name}}}: use {known}."
    if "${" in re.sub(r"\$\{[^}]*\}", "", template):
        return "A variable is not closed: write it like ${summary}."
    if "issuekey" not in names:
        return "The template must contain ${issuekey}, so that Jira links the branch to the issue."
    return None


def parse_prefixes(text: str) -> tuple[dict[str, str], str | None]:
    """``Bug=bugfix`` lines → ({"Bug": "bugfix"}, None), or ({}, why it is unusable)."""
    prefixes: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = re.split(r"[=:]", line, maxsplit=1)
        issue_type, prefix = parts[0].strip(), parts[-1].strip()
        if len(parts) < 2 or not issue_type or not prefix:
            return {}, f"Line {number}: write one issue type and prefix per line, e.g. Bug=bugfix."
        if not PREFIX_RE.match(prefix) or ".." in prefix or prefix.endswith((".", "/")):
            return {}, (
                f"Line {number}: the prefix “{prefix[:50]}” may use letters, digits, "
                "“-”, “_”, “.” and “/” (up to 50 characters)."
            )
        if len(issue_type) > 60:
            return {}, f"Line {number}: the issue type name is too long."
        prefixes[issue_type] = prefix
    return prefixes, None


def format_prefixes(prefixes: dict | None) -> str:
    return "\n".join(f"{issue_type}={prefix}" for issue_type, prefix in (prefixes or {}).items())


def host_changed(integration: Integration, values: dict) -> bool:
    """Whether saving ``values`` points the integration at another host (or host version)."""
    return any((getattr(integration, f) or None) != (values.get(f) or None) for f in HOST_FIELDS)


def check_credential(integration: Integration, secret: str) -> Identity:
    """Validate ``secret`` against the integration's host; raise ProviderError (why) if unusable.

    The integration account must be able to create branches and pull requests when the host
    can tell; when it cannot tell (None) the credential is accepted with scopes unknown.
    """
    identity = hosts.identity_of(hosts.provider_for(integration, secret))
    if identity.can_create_branch is False or identity.can_create_pull_request is False:
        if identity.missing_scopes:
            scopes = ", ".join(f"“{scope}”" for scope in identity.missing_scopes)
            raise MissingScope(
                f"The token of @{identity.login} lacks the {scopes} scope needed to create "
                "branches and pull requests.",
                scope=identity.missing_scopes[0],
            )
        raise MissingScope(
            f"The account @{identity.login} cannot create branches or pull requests on this host."
        )
    return identity


def store_credential(integration: Integration, secret: str, identity: Identity) -> None:
    """Seal the checked credential onto the (flushed) integration and remember what it is."""
    seal(integration, secret)
    integration.credential_last4 = secret[-4:]
    integration.credential_login = identity.login[:255]
    integration.credential_scopes = (
        ", ".join(identity.scopes)[:500] if identity.scopes is not None else None
    )
    integration.credential_expires_at = identity.expires_at
    integration.credential_status = "valid"
    integration.credential_checked_at = utcnow()
