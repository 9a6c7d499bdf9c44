"""A bounded load run against a real server: see loadtest/__main__.py."""
