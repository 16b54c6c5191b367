"""Typed settings, parsed once from environment variables.

Every service subclasses :class:`ServiceSettings` with its own fields; all variables share
the ``OCRPIPE_`` prefix (``OCRPIPE_BUS_NAME``, ``OCRPIPE_UPLOADS_BUCKET``, ...). In AWS the
variables are set by the service's ``serverless.yml``; locally by the runtime, from the same
naming rules (``ocrpipe.topology``).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCRPIPE_", extra="ignore", frozen=True)

    stage: str = Field(default="local", pattern=r"^[a-z][a-z0-9]{0,9}$")
    bus_name: str = Field(min_length=1, description="Custom EventBridge bus to publish to.")
    local_mode: bool = Field(
        default=False, description="True under the one-machine runtime (moto on loopback)."
    )
