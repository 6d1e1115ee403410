"""Creating a tracker from a Jira project, in a backend worker."""
