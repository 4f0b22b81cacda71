"""Research export of stored sessions."""
