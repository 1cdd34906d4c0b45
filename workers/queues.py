"""Queue names. Workers listen on all of them, most urgent first."""

NOTIFICATIONS = "notifications"
SEARCH = "search"
DEFAULT = "default"
REPORTS = "reports"

ALL = (NOTIFICATIONS, SEARCH, DEFAULT, REPORTS)
