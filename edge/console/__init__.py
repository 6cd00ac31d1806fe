"""The guard console: a small web app served by the gate daemon, on the daemon's loop.

``app.create_app`` builds it; ``server.ConsoleComponent`` serves it on the configured
host and port and, for ``kindergate guard``, on a unix socket in the store's directory.
"""
