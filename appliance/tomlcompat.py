"""The TOML parser: the standard library's ``tomllib`` (Python 3.11+), else ``tomli``, the
same parser as a package, on Python 3.10 (JetPack 6). Import it as
``from appliance.tomlcompat import tomllib``."""

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["tomllib"]
