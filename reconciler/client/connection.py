"""Connection settings: where the cluster is and how to authenticate, from flags and environment.

Input: command-line flag values and an environment mapping (or constructor arguments).
Output: a validated `ConnectionConfig`, the `Authorization` header it implies, and a
`Redactor` that removes every configured secret from text. No I/O (the CA file is only
opened by the client that uses it).

Precedence per setting: flags > `MLSYNC_*` > `ELASTICSEARCH_*` (ux-conventions.md §1.1).
Names: URL (comma-separated; also `ELASTICSEARCH_ENDPOINTS`), API_KEY, USERNAME, PASSWORD,
BEARER_TOKEN, CLOUD_ID, CA_CERT, INSECURE, TIMEOUT. After resolution exactly one way of
authenticating may remain, and a URL excludes a cloud id: anything ambiguous is an error
(as elasticsearch-py does for its constructor arguments).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from reconciler.redact import Redactor as Redactor  # re-exported for the client
from reconciler.redact import control_character

DEFAULT_URL = "http://localhost:9200"


#: The connection settings, as flag names (`--api-key` -> `api_key`) and environment suffixes
#: (`MLSYNC_API_KEY`, `ELASTICSEARCH_API_KEY`).
SETTINGS = (
    "url",
    "api_key",
    "username",
    "password",
    "bearer_token",
    "cloud_id",
    "ca_cert",
    "insecure",
    "timeout",
)


class ConnectionConfigError(ValueError):
    """The connection settings are contradictory or malformed (the CLI prints it, exit 1)."""


class InsecureConnectionWarning(UserWarning):
    """TLS certificate verification was turned off explicitly."""


# --------------------------------------------------------------------------- pure helpers


def decode_cloud_id(cloud_id: str) -> str:
    """The Elasticsearch URL of an Elastic Cloud ID (ux-conventions.md §1.2).

    `[name:]base64(parent_dn$es_uuid[$kibana_uuid])`; the port comes from `parent_dn` when it
    has one, else 443.
    """
    bad = ConnectionConfigError("Cloud ID is not properly formatted")
    _, sep, payload = cloud_id.partition(":")
    if not sep:
        payload = cloud_id
    try:
        padded = payload + "=" * (-len(payload) % 4)
        decoded = base64.b64decode(padded.encode("ascii"), validate=True).decode("ascii")
    except (ValueError, binascii.Error, UnicodeError):
        raise bad from None
    parts = decoded.split("$")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise bad
    parent_dn, es_uuid = parts[0], parts[1]
    port = "443"
    if ":" in parent_dn:
        parent_dn, _, port = parent_dn.rpartition(":")
        if not parent_dn or not port.isdigit():
            raise bad
    return f"https://{es_uuid}.{parent_dn}:{port}"


def encode_api_key(value: str | tuple[str, str]) -> str:
    """The value of `Authorization: ApiKey <value>` (ux-conventions.md §1.3).

    `(id, key)` or `"id:key"` is base64-encoded once; a value that is already the encoded
    form (it decodes to `id:key`; base64 never contains a colon) is passed through unchanged.
    """
    if isinstance(value, tuple):
        value = f"{value[0]}:{value[1]}"
    if ":" in value:
        return base64.b64encode(value.encode("utf-8")).decode("ascii")
    return value


def basic_auth_value(username: str, password: str) -> str:
    """The value of `Authorization: Basic <value>`."""
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def normalize_url(url: str) -> tuple[str, tuple[str, str] | None]:
    """Check a host URL and split off any `user:password@` (moved into basic auth).

    The userinfo ends at the last `@`: a password may hold an unencoded `/`, `?` or `#`,
    which a URL parser would read as the start of the path, query or fragment (and then print
    part of the password as a host or port).

    Returns:
        The URL without userinfo or trailing slash, and the credentials it carried.
    """
    text = url.strip()
    address, userinfo = _split_userinfo(text)
    shown = _strip_userinfo(text)
    if control_character(text):
        raise ConnectionConfigError(
            f"invalid Elasticsearch URL {shown!r}: it contains a control character "
            f"({control_character(text)}); copy it again without line breaks"
        )
    parts = urlsplit(address)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # not a number, or out of range
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ConnectionConfigError(
            f"invalid Elasticsearch URL {shown!r}: expected http(s)://host[:port]; "
            "percent-encode special characters of a user or password (/ is %2F, # is %23)"
        )
    creds = None
    if userinfo is not None:
        user, _, password = userinfo.partition(":")
        creds = (unquote(user), unquote(password))
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", "")), creds


def _split_userinfo(text: str) -> tuple[str, str | None]:
    """`scheme://user:pass@host/...` -> (`scheme://host/...`, `user:pass`); else (text, None)."""
    scheme, sep, rest = text.partition("://")
    if not sep or "@" not in rest:
        return text, None
    userinfo, _, address = rest.rpartition("@")
    return f"{scheme}://{address}", userinfo


def _strip_userinfo(text: str) -> str:
    """The URL as it may be shown: no `user:password@`, no query string or fragment."""
    address, userinfo = _split_userinfo(text)
    if userinfo is None and "@" in text:
        address = text.rpartition("@")[2]
        userinfo = ""
    address = address.split("?", 1)[0].split("#", 1)[0]
    if userinfo is None:
        return address
    scheme, sep, rest = address.partition("://")
    return f"{scheme}://***@{rest}" if sep else f"***@{address}"


def refuse_control_characters(named: Iterable[tuple[str, str | None]]) -> None:
    """Refuse a credential or header value holding CR, LF, NUL or another control character.

    Such a value cannot be sent in a header (httpx refuses it locally, which would otherwise
    look like a lost connection and be retried); it is always a copy-and-paste accident.

    Raises:
        ConnectionConfigError: naming the setting and the character, never the value.
    """
    for name, value in named:
        char = control_character(value) if value else None
        if char:
            raise ConnectionConfigError(
                f"{name} contains a control character ({char}); credentials cannot hold line "
                "breaks or other control characters: copy the value again without them"
            )


def auth_header(
    api_key: str | tuple[str, str] | None = None,
    basic_auth: tuple[str, str] | None = None,
    bearer_auth: str | None = None,
) -> tuple[str | None, Redactor]:
    """The `Authorization` header for at most one auth method, and a redactor for its secrets.

    Raises:
        ConnectionConfigError: more than one method was given.
    """
    given = [
        n
        for n, v in (("api_key", api_key), ("basic_auth", basic_auth), ("bearer_auth", bearer_auth))
        if v
    ]
    if len(given) > 1:
        raise ConnectionConfigError(
            f"Can only set one of 'api_key', 'basic_auth' and 'bearer_auth'; got {', '.join(given)}"
        )
    named: list[tuple[str, str | None]] = [("the bearer token", bearer_auth)]
    named += [("the API key", p) for p in (api_key if isinstance(api_key, tuple) else (api_key,))]
    if basic_auth:
        named += [("the username", basic_auth[0]), ("the password", basic_auth[1])]
    refuse_control_characters(named)
    if api_key:
        encoded = encode_api_key(api_key)
        return f"ApiKey {encoded}", Redactor([encoded, *_decoded_api_key_parts(encoded)])
    if basic_auth:
        user, password = basic_auth
        secrets = [password, f"{user}:{password}"]
        return f"Basic {basic_auth_value(user, password)}", Redactor(secrets)
    if bearer_auth:
        return f"Bearer {bearer_auth}", Redactor([bearer_auth])
    return None, Redactor()


# --------------------------------------------------------------------------- configuration


_SOURCES = ("MLSYNC_", "ELASTICSEARCH_")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConnectionConfig(BaseModel):
    """Resolved connection settings; secrets are `SecretStr` and never printed."""

    model_config = ConfigDict(frozen=True)

    hosts: tuple[str, ...] = ()
    cloud_id: str | None = None
    #: The API key as sent: already base64-encoded.
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    bearer_token: SecretStr | None = None
    ca_cert: str | None = None
    insecure: bool = False
    timeout: float = 30.0
    #: Where each setting came from (`--api-key`, `MLSYNC_URL`, ...), for the banner.
    origins: dict[str, str] = {}

    def model_post_init(self, __context: Any) -> None:  # noqa: D102 - validation hook
        secrets = {
            "api_key": self.api_key,
            "password": self.password,
            "bearer_token": self.bearer_token,
        }
        refuse_control_characters(
            (self.origins.get(name, name), value.get_secret_value() if value else None)
            for name, value in secrets.items()
        )
        refuse_control_characters([(self.origins.get("username", "username"), self.username)])
        methods = self.auth_methods()
        if len(methods) > 1:
            described = " and ".join(self._describe(m) for m in methods)
            raise ConnectionConfigError(
                f"more than one authentication method is configured: {described}; set only one"
            )
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise ConnectionConfigError(f"basic authentication needs a {missing} as well")
        if self.hosts and self.cloud_id:
            raise ConnectionConfigError(
                f"both a URL ({self.origins.get('url', 'url')}) and a cloud id "
                f"({self.origins.get('cloud_id', 'cloud_id')}) are configured; set only one"
            )
        if self.cloud_id:
            decode_cloud_id(self.cloud_id)
        for host in self.hosts:
            normalize_url(host)
        if self.insecure and self.ca_cert:
            raise ConnectionConfigError("a CA certificate and insecure mode contradict each other")
        if self.timeout <= 0:
            raise ConnectionConfigError(f"timeout must be positive, got {self.timeout}")

    def auth_methods(self) -> list[str]:
        """The authentication methods configured (at most one is valid)."""
        out = []
        if self.api_key is not None:
            out.append("api_key")
        if self.username is not None or self.password is not None:
            out.append("basic")
        if self.bearer_token is not None:
            out.append("bearer_token")
        return out

    def _describe(self, method: str) -> str:
        keys = {
            "api_key": ["api_key"],
            "basic": ["username", "password"],
            "bearer_token": ["bearer_token"],
        }
        where = ", ".join(self.origins[k] for k in keys[method] if k in self.origins)
        label = {"api_key": "API key", "basic": "basic auth", "bearer_token": "bearer token"}[
            method
        ]
        return f"{label} ({where})" if where else label

    @property
    def urls(self) -> tuple[str, ...]:
        """The Elasticsearch URLs: the hosts, the decoded cloud id, or the local default."""
        if self.hosts:
            return tuple(normalize_url(h)[0] for h in self.hosts)
        if self.cloud_id:
            return (decode_cloud_id(self.cloud_id),)
        return (DEFAULT_URL,)

    def authorization(self) -> str | None:
        """The `Authorization` header value, or None when no credentials are configured."""
        header, _ = auth_header(
            api_key=self.api_key.get_secret_value() if self.api_key else None,
            basic_auth=(self.username, self.password.get_secret_value())
            if self.username is not None and self.password is not None
            else None,
            bearer_auth=self.bearer_token.get_secret_value() if self.bearer_token else None,
        )
        return header

    def secrets(self) -> list[str]:
        """Every secret of this configuration, and the combinations encoded as a whole."""
        secrets: list[str] = []
        if self.api_key:
            encoded = self.api_key.get_secret_value()
            secrets.append(encoded)
            secrets.extend(_decoded_api_key_parts(encoded))
        if self.password and self.username is not None:
            password = self.password.get_secret_value()
            secrets += [password, f"{self.username}:{password}"]
        if self.bearer_token:
            secrets.append(self.bearer_token.get_secret_value())
        return secrets

    def redactor(self) -> Redactor:
        """A redactor for every secret in this configuration."""
        return Redactor(self.secrets())

    def redact(self, text: str) -> str:
        """`text` with every configured secret replaced by `***`."""
        return self.redactor()(text)

    @classmethod
    def resolve(cls, flags: Mapping[str, Any], environ: Mapping[str, str]) -> ConnectionConfig:
        """Merge flag values and environment variables (flags > `MLSYNC_*` > `ELASTICSEARCH_*`).

        Args:
            flags: values of `--url`, `--api-key`, `--username`, `--password`,
                `--bearer-token`, `--cloud-id`, `--ca-cert`, `--insecure`, `--timeout` keyed
                `url`, `api_key`, ...; None (or False for `insecure`) means "not given".
            environ: the environment (usually `os.environ`).

        Raises:
            ConnectionConfigError: contradictory or malformed settings.
        """
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}
        for key in SETTINGS:
            flag = flags.get(key)
            if flag not in (None, "", False, (), []):
                values[key] = flag
                origins[key] = "--" + key.replace("_", "-")
                continue
            names = [f"{prefix}{key.upper()}" for prefix in _SOURCES]
            if key == "url":
                names.append("ELASTICSEARCH_ENDPOINTS")
            if key == "ca_cert":
                # The variable OpenSSL-based tools read; --insecure overrides it (below).
                names.append("SSL_CERT_FILE")
            for name in names:
                raw = environ.get(name)
                if raw is not None and raw.strip() != "":
                    values[key] = raw.strip()
                    origins[key] = name
                    break

        hosts: list[str] = []
        url = values.get("url")
        if isinstance(url, str):
            hosts = [u.strip() for u in url.split(",") if u.strip()]
        elif isinstance(url, Sequence):
            hosts = [u.strip() for item in url for u in str(item).split(",") if u.strip()]

        insecure = values.get("insecure", False)
        if isinstance(insecure, str):
            lowered = insecure.lower()
            if lowered not in _TRUE | _FALSE:
                raise ConnectionConfigError(
                    f"{origins['insecure']} must be true or false, got {insecure!r}"
                )
            insecure = lowered in _TRUE
        if insecure and origins.get("ca_cert") == "SSL_CERT_FILE":
            values.pop("ca_cert")  # a machine-wide default, not a contradiction

        timeout: Any = values.get("timeout", 30.0)
        try:
            timeout = float(timeout)
        except (TypeError, ValueError):
            raise ConnectionConfigError(
                f"{origins.get('timeout', 'timeout')} must be a number of seconds, got {timeout!r}"
            ) from None

        refuse_control_characters(
            (origins[key], value)
            for key, value in values.items()
            if key != "url" and isinstance(value, str)
        )
        hosts = _move_userinfo(hosts, values, origins)
        try:
            return cls(**_arguments(values, hosts, bool(insecure), timeout, origins))
        except ValidationError as exc:
            # pydantic wraps errors raised while validating; surface ours as they were.
            first = exc.errors()[0].get("ctx", {}).get("error")
            if isinstance(first, ConnectionConfigError):
                raise first from None
            raise ConnectionConfigError(str(exc)) from None


def _move_userinfo(hosts: list[str], values: dict[str, Any], origins: dict[str, str]) -> list[str]:
    """`https://user:password@host` is basic auth: take it out of the URL.

    The URL is then safe to print, and the credentials meet the one-method rule and the
    redactor like any other username/password.
    """
    clean: list[str] = []
    for host in hosts:
        url, creds = normalize_url(host)
        clean.append(url)
        if creds is None:
            continue
        if "username" in values or "password" in values:
            other = origins.get("username") or origins.get("password")
            raise ConnectionConfigError(
                f"{origins.get('url', 'the URL')} carries a user and password and {other} sets "
                "basic authentication too; set only one"
            )
        values["username"], values["password"] = creds
        origins["username"] = origins["password"] = origins.get("url", "url")
    return clean


def _arguments(
    values: Mapping[str, Any],
    hosts: Sequence[str],
    insecure: bool,
    timeout: float,
    origins: dict[str, str],
) -> dict[str, Any]:
    api_key = values.get("api_key")
    return {
        "hosts": tuple(hosts),
        "cloud_id": values.get("cloud_id"),
        "api_key": SecretStr(encode_api_key(api_key)) if api_key else None,
        "username": values.get("username"),
        "password": SecretStr(values["password"]) if "password" in values else None,
        "bearer_token": SecretStr(values["bearer_token"]) if "bearer_token" in values else None,
        "ca_cert": values.get("ca_cert"),
        "insecure": insecure,
        "timeout": timeout,
        "origins": origins,
    }


def _decoded_api_key_parts(encoded: str) -> list[str]:
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode()
    except (ValueError, binascii.Error, UnicodeError):
        return []
    if ":" not in decoded:
        return []
    return [decoded, decoded.split(":", 1)[1]]
