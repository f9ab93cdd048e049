"""The Atlassian Connect app descriptor served at /atlassian-connect.json.

Reference: https://developer.atlassian.com/cloud/jira/platform/app-descriptor/ (modules:
web-item with a dialog target, admin-page, general-page; lifecycle; API migrations).
"""

APP_KEY = "gitint"
ISSUE_CONTEXT = "issueKey={issue.key}&projectKey={project.key}&projectId={project.id}"
DIALOG_OPTIONS = {"width": "600px", "height": "480px", "chrome": False}


def _issue_action(key: str, name: str, path: str, weight: int) -> dict:
    """A web item in the issue's actions menu opening one of our dialogs."""
    return {
        "key": key,
        "location": "operations-top-level",
        "weight": weight,
        "name": {"value": name},
        "url": f"{path}?{ISSUE_CONTEXT}",
        "context": "addon",
        "target": {"type": "dialog", "options": DIALOG_OPTIONS},
        "conditions": [{"condition": "user_is_logged_in"}],
    }


def descriptor(base_url: str) -> dict:
    """The descriptor for an app served at ``base_url`` (GITINT_BASE_URL)."""
    return {
        "key": APP_KEY,
        "name": "Git integration (gitint)",
        "description": "Create git branches and pull requests from Jira issues.",
        "vendor": {"name": "gitint", "url": base_url},
        "baseUrl": base_url,
        "authentication": {"type": "jwt"},
        "lifecycle": {"installed": "/lifecycle/installed", "uninstalled": "/lifecycle/uninstalled"},
        "apiMigrations": {"signed-install": True, "context-qsh": True},
        "scopes": ["READ"],
        "enableLicensing": False,
        "modules": {
            "webItems": [
                _issue_action("create-branch", "Create branch", "/dialogs/create-branch", 100),
                _issue_action(
                    "create-pull-request",
                    "Create pull request",
                    "/dialogs/create-pull-request",
                    110,
                ),
            ],
            "adminPages": [
                {
                    "key": "manage-git-repositories",
                    "name": {"value": "Manage Git repositories"},
                    "url": "/admin/integrations",
                    "conditions": [{"condition": "user_is_admin"}],
                }
            ],
            # A project page (not a general page): the View Development Tools check needs a
            # project, and Jira gives project pages its id.
            "jiraProjectPages": [
                {
                    "key": "personal-access-tokens",
                    "name": {"value": "Git: personal access tokens"},
                    "url": "/pats?projectKey={project.key}&projectId={project.id}",
                    "weight": 200,
                    "conditions": [{"condition": "user_is_logged_in"}],
                }
            ],
        },
    }
