"""Connection settings: precedence, auth rules, cloud id, API key encoding, redaction."""

from __future__ import annotations

import base64

import pytest

from reconciler.client.connection import (
    ConnectionConfig,
    ConnectionConfigError,
    Redactor,
    auth_header,
    decode_cloud_id,
    encode_api_key,
    normalize_url,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_flags_beat_mlsync_env_which_beats_elasticsearch_env() -> None:
    env = {
        "MLSYNC_URL": "http://mlsync:9200",
        "ELASTICSEARCH_URL": "http://es:9200",
        "ELASTICSEARCH_TIMEOUT": "5",
        "ELASTICSEARCH_CA_CERT": "/tmp/ca.pem",
    }
    cfg = ConnectionConfig.resolve({}, env)
    assert cfg.urls == ("http://mlsync:9200",)
    assert cfg.timeout == 5.0 and cfg.ca_cert == "/tmp/ca.pem"
    assert cfg.origins["url"] == "MLSYNC_URL" and cfg.origins["timeout"] == "ELASTICSEARCH_TIMEOUT"
    flagged = ConnectionConfig.resolve({"url": "http://flag:9200", "timeout": None}, env)
    assert flagged.urls == ("http://flag:9200",) and flagged.origins["url"] == "--url"


def test_comma_separated_urls_and_terraform_endpoints_name() -> None:
    cfg = ConnectionConfig.resolve(
        {}, {"ELASTICSEARCH_ENDPOINTS": "http://a:9200, https://b:9243/"}
    )
    assert cfg.urls == ("http://a:9200", "https://b:9243")
    many = ConnectionConfig.resolve({"url": ["http://a:1", "http://b:2,http://c:3"]}, {})
    assert many.urls == ("http://a:1", "http://b:2", "http://c:3")
    assert ConnectionConfig.resolve({}, {}).urls == ("http://localhost:9200",)


def test_username_flag_combines_with_password_from_env() -> None:
    cfg = ConnectionConfig.resolve({"username": "elastic"}, {"MLSYNC_PASSWORD": "s3cret-pw"})
    assert cfg.authorization() == "Basic " + b64("elastic:s3cret-pw")
    assert "s3cret-pw" not in repr(cfg) and "s3cret-pw" not in str(cfg.model_dump())


def test_more_than_one_auth_method_is_an_error_naming_the_sources() -> None:
    with pytest.raises(ConnectionConfigError) as err:
        ConnectionConfig.resolve(
            {"api_key": "id:key"},
            {"ELASTICSEARCH_USERNAME": "u", "ELASTICSEARCH_PASSWORD": "p"},
        )
    message = str(err.value)
    assert "--api-key" in message and "ELASTICSEARCH_USERNAME" in message
    assert "key" not in message.replace("--api-key", "").replace("API key", "")
    assert isinstance(err.value, ValueError)
    with pytest.raises(ConnectionConfigError, match="more than one"):
        ConnectionConfig.resolve({}, {"MLSYNC_BEARER_TOKEN": "t", "MLSYNC_API_KEY": "a:b"})


def test_url_and_cloud_id_together_and_bad_values_are_errors() -> None:
    cloud = "name:" + b64("example.com$abc$def")
    with pytest.raises(ConnectionConfigError, match=r"URL .* and a cloud id"):
        ConnectionConfig.resolve({"url": "http://a:9200"}, {"MLSYNC_CLOUD_ID": cloud})
    with pytest.raises(ConnectionConfigError, match="Cloud ID"):
        ConnectionConfig.resolve({"cloud_id": "garbage!!"}, {})
    with pytest.raises(ConnectionConfigError, match="password"):
        ConnectionConfig.resolve({"username": "u"}, {})
    with pytest.raises(ConnectionConfigError, match="TIMEOUT must be a number"):
        ConnectionConfig.resolve({}, {"MLSYNC_TIMEOUT": "soon"})
    with pytest.raises(ConnectionConfigError, match="true or false"):
        ConnectionConfig.resolve({}, {"MLSYNC_INSECURE": "maybe"})
    with pytest.raises(ConnectionConfigError, match="invalid Elasticsearch URL"):
        ConnectionConfig.resolve({"url": "localhost:9200"}, {})


def test_verification_is_on_unless_insecure_is_asked_for() -> None:
    assert ConnectionConfig.resolve({}, {}).insecure is False
    assert ConnectionConfig.resolve({"insecure": True}, {}).insecure is True
    assert ConnectionConfig.resolve({}, {"ELASTICSEARCH_INSECURE": "true"}).insecure is True
    assert ConnectionConfig.resolve({}, {"MLSYNC_INSECURE": "0"}).insecure is False


def test_cloud_id_decoding() -> None:
    # with a port, without a kibana uuid, without a name, garbage (ux-conventions.md §1.2)
    assert decode_cloud_id("prod:" + b64("eu-west-1.aws.found.io:9243$es-uuid$kb-uuid")) == (
        "https://es-uuid.eu-west-1.aws.found.io:9243"
    )
    assert decode_cloud_id("prod:" + b64("found.io$es-uuid")) == "https://es-uuid.found.io:443"
    assert decode_cloud_id(b64("found.io$es-uuid$kb")) == "https://es-uuid.found.io:443"
    for bad in ("prod:not base64 at all", "prod:" + b64("no-dollar-here"), "x:" + b64("$uuid")):
        with pytest.raises(ConnectionConfigError, match="not properly formatted"):
            decode_cloud_id(bad)
    cfg = ConnectionConfig.resolve({}, {"ELASTICSEARCH_CLOUD_ID": "prod:" + b64("found.io$es")})
    assert cfg.urls == ("https://es.found.io:443",)


def test_api_key_is_encoded_exactly_once() -> None:
    encoded = b64("my-id:my-secret")
    assert encode_api_key("my-id:my-secret") == encoded
    assert encode_api_key(encoded) == encoded  # already encoded: passed through
    assert encode_api_key(("my-id", "my-secret")) == encoded
    cfg = ConnectionConfig.resolve({"api_key": "my-id:my-secret"}, {})
    assert cfg.authorization() == f"ApiKey {encoded}"
    assert (
        ConnectionConfig.resolve({}, {"MLSYNC_API_KEY": encoded}).authorization()
        == f"ApiKey {encoded}"
    )


def test_redact_removes_every_form_of_every_secret() -> None:
    key_cfg = ConnectionConfig.resolve({"api_key": "kid:key-SECRET-1"}, {})
    text = f"a {b64('kid:key-SECRET-1')} b kid:key-SECRET-1 c key-SECRET-1"
    assert key_cfg.redact(text) == "a *** b *** c ***"
    pw = ConnectionConfig.resolve({"username": "u", "password": "pw-SECRET-2"}, {})
    assert pw.redact(f"x pw-SECRET-2 {b64('u:pw-SECRET-2')}") == "x *** ***"
    bearer = ConnectionConfig.resolve({"bearer_token": "tok-SECRET-3"}, {})
    assert bearer.redact("Bearer tok-SECRET-3") == "Bearer ***"
    assert Redactor([None, ""])("unchanged") == "unchanged"


def test_auth_header_rules() -> None:
    with pytest.raises(ConnectionConfigError, match="Can only set one"):
        auth_header(api_key="a:b", bearer_auth="t")
    header, redact = auth_header(basic_auth=("u", "p4ss"))
    assert header == "Basic " + b64("u:p4ss") and redact("p4ss") == "***"
    assert auth_header()[0] is None


def test_userinfo_in_urls_is_split_off_and_never_echoed() -> None:
    assert normalize_url("https://user:pa%40ss@es:9200/") == ("https://es:9200", ("user", "pa@ss"))
    with pytest.raises(ConnectionConfigError) as err:
        normalize_url("ftp://user:hunter2@es")
    assert "hunter2" not in str(err.value)


def test_credentials_in_the_url_become_basic_auth_and_count_as_a_method() -> None:
    from reconciler.client import ConnectionConfig, ConnectionConfigError

    config = ConnectionConfig.resolve({"url": ("https://elastic:s3cret@es.example:9200",)}, {})
    assert config.hosts == ("https://es.example:9200",)
    assert config.authorization() == "Basic ZWxhc3RpYzpzM2NyZXQ="
    assert "s3cret" not in repr(config)
    with pytest.raises(ConnectionConfigError, match="more than one authentication method"):
        ConnectionConfig.resolve(
            {"url": ("https://elastic:s3cret@es.example:9200",), "api_key": "id:key"}, {}
        )
    with pytest.raises(ConnectionConfigError, match="carries a user and password"):
        ConnectionConfig.resolve(
            {"url": ("https://u:p@es.example",), "username": "x", "password": "y"}, {}
        )
