"""Development-only code: the dev Jira host (Connect and Forge modes) and the demo git host."""
