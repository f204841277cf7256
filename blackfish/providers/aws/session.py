"""One boto3 session per command, from the standard credential chain, and AWS errors as
blackfish errors.

Credentials are never read from nodes.yml: boto3 finds them (AWS_ACCESS_KEY_ID and friends,
AWS_PROFILE or `profile:`, ~/.aws/credentials and config, SSO, an instance role).
AWS_ENDPOINT_URL points every client elsewhere (the tests' local moto server). An API error
becomes a ProviderError carrying AWS's own code and message (exit 1); no credentials is a
MissingToolError saying what to set (exit 3).
"""

from __future__ import annotations

import contextlib
import functools

from blackfish.errors import BlackfishError, MissingToolError, ProviderError, UsageError
from blackfish.model.aws import AwsSettings

CREDENTIALS_HINT = ("Set AWS_PROFILE (or `profile:` in nodes.yml) to a profile in ~/.aws/credentials, "
                    "run `aws sso login --profile NAME`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
# Real AWS needs a few seconds to retry a request that raced an eventually consistent write.
RETRIES = {"max_attempts": 8, "mode": "standard"}


class Aws:
    """The clients of one stack's account and region."""

    def __init__(self, settings: AwsSettings):
        try:
            import boto3
            import botocore.exceptions
        except ImportError:  # pragma: no cover - boto3 is a dependency
            raise MissingToolError("boto3 is not installed", hint="pip install 'blackfish[aws]'") from None
        self.settings = settings
        try:
            self.session = boto3.session.Session(profile_name=settings.profile, region_name=settings.region)
        except botocore.exceptions.ProfileNotFound:
            raise MissingToolError(f"AWS profile {settings.profile!r} is not configured",
                                   hint="Add it to ~/.aws/config (`aws configure --profile NAME`) or change `profile:`") from None

    def check_credentials(self) -> None:
        """Exit 3 unless the chain finds credentials; exit 2 when they are not the pinned key."""
        import botocore.exceptions

        try:
            credentials = self.session.get_credentials()
        except botocore.exceptions.BotoCoreError as exc:
            raise MissingToolError(f"AWS credentials cannot be loaded: {exc}", hint=CREDENTIALS_HINT) from None
        if credentials is None:
            raise MissingToolError("no AWS credentials found", hint=CREDENTIALS_HINT)
        pinned = self.settings.access_key_id
        if pinned is not None and credentials.access_key != pinned:
            raise UsageError(f"access-key-id in nodes.yml is {pinned}, but the AWS credential chain "
                             f"({credentials.method}) found {credentials.access_key}; select the right profile or "
                             "environment, or remove access-key-id")

    @functools.cached_property
    def ec2(self):
        return self.client("ec2")

    @functools.cached_property
    def iam(self):
        return self.client("iam")

    def client(self, service: str):
        from botocore.config import Config

        return self.session.client(service, config=Config(retries=RETRIES))

    def call(self, client, operation: str, **params):
        """client.<operation>(**params); AWS's refusal as a ProviderError with its code and message."""
        with translated(operation):
            return getattr(client, operation)(**params)

    def pages(self, client, operation: str, key: str, **params) -> list:
        """Every item under `key` of every page of a paginated call."""
        with translated(operation):
            return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get(key, [])]


@contextlib.contextmanager
def translated(operation: str):
    """botocore's exceptions as blackfish errors (exit 1 with AWS's message, exit 3 for credentials)."""
    import botocore.exceptions
    import botocore.parsers

    try:
        yield
    except botocore.exceptions.ClientError as exc:
        raise api_error(exc, operation) from None
    except botocore.exceptions.NoCredentialsError:
        raise MissingToolError("no AWS credentials found", hint=CREDENTIALS_HINT) from None
    except (botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError) as exc:
        raise ProviderError(f"AWS {operation}: {exc}") from None


def error_code(exc) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def api_error(exc, operation: str) -> BlackfishError:
    error = exc.response.get("Error", {})
    code, message = error.get("Code", "Error"), error.get("Message", str(exc))
    if code in ("AuthFailure", "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken",
                "SignatureDoesNotMatch"):
        return MissingToolError(f"AWS refused the credentials ({code}: {message})", hint=CREDENTIALS_HINT)
    return ProviderError(f"AWS {operation} failed: {code}: {message}")
