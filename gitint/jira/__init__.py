"""The embedding side: Jira JWTs, lifecycle, the context token, Jira REST and permissions."""
