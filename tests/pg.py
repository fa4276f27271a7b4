"""Re-export of the server finder the tests share with `make run`."""

from devtools.postgres import find_server

__all__ = ["find_server"]
